from django.apps import AppConfig


class ToDeviceConfig(AppConfig):
    name = "apps.to_device"
    label = "to_device"

    def ready(self) -> None:
        # The `to_device` stream's fetch function (every process), and the /sync section.
        from . import streams, sync  # noqa: F401
