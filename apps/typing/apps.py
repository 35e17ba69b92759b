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

        from apps.core import process_start

        process_start.register("typing", _start_on_writer)


def _start_on_writer() -> None:
    """The typing writer expires what a previous run left in the table, without waiting for a request."""
    from hsproject import instance

    from .handlers import STREAM
    from .timeouts import loop

    if instance.writes(STREAM):
        loop().start()
