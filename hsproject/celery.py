"""The Celery app `hsproject`: `celery -A hsproject worker -Q pusher` runs a pusher, and so on.

Queues and routes come from `workers.queues` / `workers.routing`, the only place a queue name is written;
they are checked here at start-up so a task routed to an undeclared queue stops the process.
"""
import os

from celery import Celery
from celery.signals import beat_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hsproject.settings")

app = Celery("hsproject")
app.config_from_object("django.conf:settings", namespace="CELERY")


def _configure() -> None:
    from workers.queues import QUEUES
    from workers.routing import TASK_ROUTES

    app.conf.task_queues = QUEUES
    app.conf.task_routes = TASK_ROUTES
    app.conf.task_default_queue = "background"
    app.conf.task_acks_late = True
    app.conf.task_reject_on_worker_lost = True
    app.conf.worker_prefetch_multiplier = 1
    app.conf.broker_connection_retry_on_startup = True
    from workers.beat import SCHEDULE

    app.conf.beat_schedule = SCHEDULE


_configure()
app.conf.imports = ("workers.background", "workers.appservice", "workers.pusher", "workers.federation_sender")

# Task metrics (apps.metrics): every process that loads the Celery app stamps the tasks it publishes and
# records the tasks it runs, `celery call` and beat included (only Celery and the standard library are
# imported there, so this is safe before Django is set up).
from apps.metrics.celery_signals import connect as _connect_task_metrics  # noqa: E402

_connect_task_metrics()


@beat_init.connect
def _beat_only_where_configured(sender=None, **kwargs) -> None:
    """`celery beat` runs only as the instance `run_background_tasks_on` names (its HS_WORKER_CONFIG's
    worker_name): a second beat elsewhere would double every periodic job."""
    from hsproject import instance

    if not instance.is_background_instance():
        raise SystemExit(f"celery beat is started as instance {instance.name()!r}, but run_background_tasks_on "
                         f"is {instance.config().workers.run_background_tasks_on!r}: start beat with that "
                         f"instance's worker file, or change run_background_tasks_on")


@app.on_after_finalize.connect
def _check_routing(sender, **kwargs) -> None:
    from workers.routing import check_routes

    check_routes(sender.tasks.keys())
