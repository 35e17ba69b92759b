from django.apps import AppConfig


class FederationConfig(AppConfig):
    name = "apps.federation"
    label = "federation"

    def ready(self):
        from . import checks  # noqa: F401 - registers the signing-key start-up check
        # A remote user's member event with another name or avatar drops their kept profile.
        from apps.rooms.persister import on_event_persisting

        from . import query_cache
        on_event_persisting(query_cache.on_member_event)
