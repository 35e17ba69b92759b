from django.apps import AppConfig


class UserDirectoryIndexConfig(AppConfig):
    name = "apps.user_directory_index"
    label = "user_directory_index"
    verbose_name = "User directory index"

    def ready(self) -> None:
        # The index is written by an in-transaction persister hook (apps.rooms.persister.on_event_persisting).
        from . import index  # noqa: F401
