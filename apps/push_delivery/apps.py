from django.apps import AppConfig


class PushDeliveryConfig(AppConfig):
    name = "apps.push_delivery"
    label = "push_delivery"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import wakeups  # noqa: F401  (registers the event-persisted hook)
