from django.apps import AppConfig


class RoomsConfig(AppConfig):
    name = "apps.rooms"
    label = "rooms"

    def ready(self) -> None:
        # The `events` stream's fetch and notify functions, in every process (writers and readers).
        from . import streams  # noqa: F401
        # Records redactions the pipeline persists from other servers (persister.on_event_persisted).
        from . import redactions  # noqa: F401
