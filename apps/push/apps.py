from django.apps import AppConfig


class PushConfig(AppConfig):
    name = "apps.push"
    label = "push"
    verbose_name = "Push"

    def ready(self) -> None:
        # The push_rules stream's fetch and notify functions; the push-actions hook of the persister;
        # the /sync sections (m.push_rules account data, unread notification counts); a deleted device's
        # pushers go with it.
        from . import actions, signals, streams, sync_sections  # noqa: F401
