from django.apps import AppConfig


class RelationsConfig(AppConfig):
    name = "apps.relations"
    label = "relations"

    def ready(self) -> None:
        # The relations index is written by an in-transaction persister hook; bundled aggregations
        # are added to served events through apps.rooms.serialize's bundler registry.
        from . import aggregations, index  # noqa: F401
