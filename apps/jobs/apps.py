from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "apps.jobs"
    label = "jobs"
    verbose_name = "Jobs"

    def ready(self) -> None:
        # The job kinds this app runs (purge history, deactivate user) join the registry.
        from . import kinds  # noqa: F401
