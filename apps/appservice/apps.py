from django.apps import AppConfig


class AppServiceConfig(AppConfig):
    name = "apps.appservice"
    label = "appservice"
    verbose_name = "Application services"

    def ready(self) -> None:
        # Every persisted event wakes the `appservice` queue (after its commit); the task reads the
        # events table from each service's durable position, so a lost wake-up only delays delivery.
        from apps.streams.replication import add_process_listener

        from . import wakeups

        add_process_listener(wakeups.on_stream_advanced)
