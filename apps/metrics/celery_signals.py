"""Celery signal handlers that record per-queue task metrics (the numbers are kept by `taskstats`).

    publisher (a homeserver process, beat)     worker (prefork child, or this process when eager)
    before_task_publish: stamp ENQUEUED_HEADER  task_prerun:  started +1, wait = now - stamp
                                                task_postrun: runtime, and by the final state
                                                              succeeded / failed / retried +1

The stamp is wall-clock time (publisher and worker may be different hosts), taken as the message's ETA
when that is later (a countdown or a retry backoff is not time spent waiting in the queue). A task with
no stamp (run eagerly, or sent by a publisher without these handlers) records no wait.

Only Celery and the standard library are imported here, so `connect()` may run before Django is set up.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone

from celery import signals

ENQUEUED_HEADER = "hs_enqueued_at"
_START_ATTR = "_hs_metrics_started"
_OUTCOME = {"SUCCESS": "succeeded", "FAILURE": "failed", "RETRY": "retried"}


def _eta_timestamp(eta) -> float | None:
    if not eta:
        return None
    try:
        when = eta if isinstance(eta, datetime) else datetime.fromisoformat(str(eta))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)  # Celery sends UTC (enable_utc is on by default)
    return when.timestamp()


def on_before_task_publish(sender=None, headers=None, **kwargs) -> None:
    if headers is None:
        return
    now = time.time()
    eta = _eta_timestamp(headers.get("eta"))
    headers[ENQUEUED_HEADER] = max(now, eta) if eta is not None else now


def queue_of_task(task) -> str:
    """The queue a task runs from: the routing table's answer (its name's first part), else the queue
    the message came through, else the default queue (Celery's own `celery.*` tasks)."""
    from workers.queues import QUEUE_NAMES
    from workers.routing import queue_of

    queue = queue_of(task.name)
    if queue in QUEUE_NAMES:
        return queue
    info = getattr(task.request, "delivery_info", None) or {}
    return info.get("routing_key") or task.app.conf.task_default_queue or "celery"


def on_task_prerun(sender=None, task=None, **kwargs) -> None:
    if task is None:
        return
    from . import taskstats

    request = task.request
    setattr(request, _START_ATTR, time.monotonic())
    queue = queue_of_task(task)
    ops = [taskstats.counter_op("started", queue, task.name)]
    stamp = getattr(request, ENQUEUED_HEADER, None)  # message headers become request attributes
    if isinstance(stamp, (int, float)):
        ops += taskstats.histogram_ops("wait", queue, task.name, time.time() - stamp)
    taskstats.add(ops)


def on_task_postrun(sender=None, task=None, state=None, **kwargs) -> None:
    if task is None:
        return
    from . import taskstats

    queue = queue_of_task(task)
    ops = []
    outcome = _OUTCOME.get(state or "")
    if outcome:
        ops.append(taskstats.counter_op(outcome, queue, task.name))
    started = getattr(task.request, _START_ATTR, None)
    if started is not None:
        ops += taskstats.histogram_ops("runtime", queue, task.name, time.monotonic() - started)
    taskstats.add(ops)


def connect() -> None:
    """Connect the handlers (idempotent: each has a dispatch uid)."""
    signals.before_task_publish.connect(on_before_task_publish, weak=False,
                                        dispatch_uid="hsproject.metrics.before_task_publish")
    signals.task_prerun.connect(on_task_prerun, weak=False, dispatch_uid="hsproject.metrics.task_prerun")
    signals.task_postrun.connect(on_task_postrun, weak=False, dispatch_uid="hsproject.metrics.task_postrun")
