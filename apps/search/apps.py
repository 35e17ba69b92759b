from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "apps.search"
    label = "search"

    def ready(self) -> None:
        # The search index is written by an in-transaction persister hook.
        from . import index  # noqa: F401
