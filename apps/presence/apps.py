from django.apps import AppConfig


class PresenceConfig(AppConfig):
    name = "apps.presence"
    label = "presence"
    verbose_name = "Presence"

    def ready(self) -> None:
        # The `presence` stream's fetch and notify functions, in every process (writer and readers).
        from . import streams  # noqa: F401
        from apps.sync import sections

        from apps.federation.edus import register_edu_handler

        from .handlers import fill_sync, on_presence_edu, on_sync_request
        sections.register("presence", fill_sync)
        sections.register_request_hook("presence", on_sync_request)
        register_edu_handler("m.presence", on_presence_edu)

        from apps.core import process_start

        process_start.register("presence", _start_on_writer)


def _start_on_writer() -> None:
    """The presence writer applies idle and offline timeouts from the start, not from its first request."""
    from hsproject import instance

    from . import stores
    from .handlers import enabled
    from .loop import loop

    if enabled() and instance.writes(stores.STREAM):
        loop().start()
