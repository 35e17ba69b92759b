from django.apps import AppConfig


class ToDeviceConfig(AppConfig):
    name = "apps.to_device"
    label = "to_device"

    def ready(self) -> None:
        # The `to_device` stream's fetch function (every process), the /sync section, and the clean-up of
        # deleted devices' inboxes.
        from . import cleanup, streams, sync  # noqa: F401
        # Messages from other servers' users arrive as m.direct_to_device EDUs in federation transactions.
        from apps.federation.edus import register_edu_handler

        from .handlers import on_direct_to_device_edu
        register_edu_handler("m.direct_to_device", on_direct_to_device_edu)
