from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"

    def ready(self) -> None:
        from . import process_start

        process_start.register("local-beat", _start_local_beat)


def _start_local_beat() -> None:
    """With no broker, the background instance runs the periodic jobs itself (workers.local_beat)."""
    from workers.local_beat import start_if_brokerless

    start_if_brokerless()
