"""What wakes the `federation_sender` queue: new outbox rows of a destination (after their commit), a
retry after the backoff, a destination heard from while backing off, and the periodic sweep
(`federation_sender.sweep`, workers/beat.py) for work no message announced.

In the embedded default (tasks run in-process) sending runs on one background thread, so that a slow
remote server never holds up the request whose event woke it; tests turn it off (`IN_PROCESS_THREAD =
False`) to send inline.
"""
from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

logger = logging.getLogger(__name__)

IN_PROCESS_THREAD = True
_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _eager() -> bool:
    from hsproject.celery import app

    return bool(app.conf.task_always_eager)


def _submit(fn, *args) -> None:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="federation-sender")
    _executor.submit(fn, *args)


def _run(destination: str) -> None:
    from django.db import connection

    from workers.federation_sender import send

    try:
        send.apply((destination,))
    except Exception:
        logger.exception("sending to %s failed", destination)
    finally:
        connection.close()


def wake(destination: str) -> None:
    from workers.federation_sender import send

    from .delivery import sending_enabled

    if not sending_enabled():
        return
    if _eager() and IN_PROCESS_THREAD:
        _submit(_run, destination)
    elif _eager():
        send.apply((destination,))
    else:
        send.delay(destination)


def wake_all(destinations) -> None:
    for d in sorted(set(destinations)):
        wake(d)


def schedule_retry(destination: str, delay_ms: int) -> None:
    from workers.federation_sender import send

    if not _eager():
        send.apply_async((destination,), countdown=max(1.0, delay_ms / 1000))
        return
    if IN_PROCESS_THREAD:
        timer = threading.Timer(max(0.05, delay_ms / 1000), wake, (destination,))
        timer.daemon = True
        timer.start()


def _heard_from(origin: str) -> None:
    from django.db import connection

    from . import stores

    try:
        if stores.reset_backoff(origin):
            wake(origin)
    except Exception:
        logger.exception("resetting the backoff of %s failed", origin)
    finally:
        if IN_PROCESS_THREAD and _eager():
            connection.close()


def heard_from(origin: str) -> None:
    """An authenticated request came from `origin`: it is up, so a backoff towards it ends now. Done off
    the request's path (a background thread, or a task)."""
    from workers.federation_sender import heard_from as task

    if _eager() and IN_PROCESS_THREAD:
        _submit(_heard_from, origin)
    elif _eager():
        _heard_from(origin)
    else:
        task.delay(origin)


# origin -> when this process last looked at its backoff (ms): at most one look per origin and interval.
HEARD_FROM_INTERVAL_MS = 30_000
_heard: dict[str, int] = {}


def _on_origin_authenticated(origin: str) -> None:
    from . import stores
    from .delivery import sending_enabled

    if not sending_enabled():
        return
    now = stores.now_ms()
    if now - _heard.get(origin, 0) < HEARD_FROM_INTERVAL_MS:
        return
    if len(_heard) > 10_000:
        _heard.clear()
    _heard[origin] = now
    heard_from(origin)


def _register() -> None:
    from apps.federation.transport_auth import on_origin_authenticated

    on_origin_authenticated(_on_origin_authenticated)


_register()
