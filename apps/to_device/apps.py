from django.apps import AppConfig


class ToDeviceConfig(AppConfig):
    name = "apps.to_device"
    label = "to_device"

    def ready(self) -> None:
        # The `to_device` stream's fetch function (every process), the /sync section, and the clean-up of
        # deleted devices' inboxes.
        from . import cleanup, streams, sync  # noqa: F401
