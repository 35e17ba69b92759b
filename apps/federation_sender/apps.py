from django.apps import AppConfig


class FederationSenderConfig(AppConfig):
    name = "apps.federation_sender"
    label = "federation_sender"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import queueing, wakeups  # noqa: F401  (register the event, stream and heard-from hooks)
