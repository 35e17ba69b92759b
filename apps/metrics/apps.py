from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "apps.metrics"
    label = "metrics"
    verbose_name = "Metrics"

    def ready(self) -> None:
        from apps.core import process_start

        from . import celery_signals, collectors, listeners

        # Every process with the apps loaded records and stamps tasks: the homeserver processes (they
        # publish), Celery workers and beat (Celery's Django fixup runs `django.setup()` in both).
        celery_signals.connect()
        collectors.register()
        process_start.register("metrics-listeners", listeners.start_metrics_listeners)
