from django.apps import AppConfig


class FederationConfig(AppConfig):
    name = "apps.federation"
    label = "federation"

    def ready(self):
        from . import checks  # noqa: F401 - registers the signing-key start-up check
