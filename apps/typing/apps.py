from django.apps import AppConfig


class TypingConfig(AppConfig):
    name = "apps.typing"
    label = "typing"
    verbose_name = "Typing notifications"

    def ready(self) -> None:
        # The `typing` stream's fetch function, in every process (writer and readers).
        from . import streams  # noqa: F401
        from apps.sync import sections

        from apps.federation.edus import register_edu_handler

        from .handlers import fill_sync, on_typing_edu
        sections.register("typing", fill_sync)
        register_edu_handler("m.typing", on_typing_edu)
