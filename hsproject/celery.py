"""The Celery app `hsproject`: `celery -A hsproject worker -Q pusher` runs a pusher, and so on.

Queues and routes come from `workers.queues` / `workers.routing`, the only place a queue name is written;
they are checked here at start-up so a task routed to an undeclared queue stops the process.
"""
import os

from celery import Celery

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


@app.on_after_finalize.connect
def _check_routing(sender, **kwargs) -> None:
    from workers.routing import check_routes

    check_routes(sender.tasks.keys())
