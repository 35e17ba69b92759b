from django.apps import AppConfig


class RetentionConfig(AppConfig):
    name = "apps.retention"
    label = "retention"
    verbose_name = "Message retention"

    def ready(self) -> None:
        # Valid `m.room.retention` events are recorded by an in-transaction persister hook
        # (apps.rooms.persister.on_event_persisting), whatever path persists them.
        from . import recording  # noqa: F401
