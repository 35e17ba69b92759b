from django.apps import AppConfig


class DelayedEventsConfig(AppConfig):
    name = "apps.delayed_events"
    label = "delayed_events"
    verbose_name = "Delayed events"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import hooks  # noqa: F401  (registers the event-persisted hook: state supersedes delayed state)
