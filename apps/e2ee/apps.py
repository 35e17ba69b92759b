from django.apps import AppConfig


class E2EEConfig(AppConfig):
    name = "apps.e2ee"
    label = "e2ee"

    def ready(self) -> None:
        # The `device_lists` stream's fetch and notify functions, in every process.
        from . import streams  # noqa: F401
        # A device created or deleted moves its owner's device list; a deleted device loses its keys.
        from . import device_lists
        device_lists.connect_device_signals()
        from apps.sync import sections
        sections.register("e2ee", device_lists.fill_sync)
        # Other servers' users' device lists: their EDUs, and the membership hook forgetting cached devices.
        from apps.federation.edus import register_edu_handler

        from . import remote_devices
        register_edu_handler("m.device_list_update", remote_devices.on_device_list_update)
        register_edu_handler("m.signing_key_update", remote_devices.on_signing_key_update)
        # A join that makes another server share a room with local users sends it their device lists.
        from apps.rooms.persister import on_event_persisting

        from .federation_updates import queue_for_new_servers
        on_event_persisting(queue_for_new_servers)
