"""What wakes the `pusher` queue: an event persisted on this process that gave someone a notifying push
action (after its commit), and the periodic sweep (`pusher.sweep`, workers/beat.py) for work no message
announced (a lost message, a retry lost with its worker, a worker killed mid-send).

In the embedded default (tasks run in-process) deliveries run on one background thread, so that a slow
gateway never holds up the request whose event woke it; tests turn it off (`IN_PROCESS_THREAD = False`)
to run deliveries inline.
"""
from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from apps.rooms.persister import PersistedEvent, on_event_persisted

logger = logging.getLogger(__name__)

IN_PROCESS_THREAD = True
_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _eager() -> bool:
    from hsproject.celery import app

    return bool(app.conf.task_always_eager)


def _run(pusher_id: int) -> None:
    from django.db import connection

    from workers.pusher import push

    try:
        push.apply((pusher_id,))
    except Exception:
        logger.exception("delivery of pusher %s failed", pusher_id)
    finally:
        connection.close()


def wake(pusher_id: int) -> None:
    from workers.pusher import push

    global _executor
    if _eager() and IN_PROCESS_THREAD:
        with _executor_lock:
            if _executor is None:
                _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pusher")
        _executor.submit(_run, pusher_id)
    elif _eager():
        push.apply((pusher_id,))
    else:
        push.delay(pusher_id)


def schedule_retry(pusher_id: int, delay_ms: int) -> None:
    from workers.pusher import push

    if not _eager():
        push.apply_async((pusher_id,), countdown=max(1.0, delay_ms / 1000))
        return
    if IN_PROCESS_THREAD:
        timer = threading.Timer(max(0.05, delay_ms / 1000), wake, (pusher_id,))
        timer.daemon = True
        timer.start()


_waits: dict[int, float] = {}
_waits_lock = threading.Lock()
WAIT_CAP_MS = 3_600_000


def schedule_wait(pusher_id: int, delay_ms: int) -> None:
    """An email batch falls due in `delay_ms`. With Celery the beat's sweep (every 30 s) comes back for
    it; in-process, one timer per pusher (the earliest wins), so a burst of messages sets one timer."""
    import time

    if not _eager() or not IN_PROCESS_THREAD:
        return
    delay_s = max(0.05, min(delay_ms, WAIT_CAP_MS) / 1000)
    due = time.monotonic() + delay_s
    with _waits_lock:
        current = _waits.get(pusher_id)
        if current is not None and time.monotonic() < current <= due:
            return
        _waits[pusher_id] = due

    def fire() -> None:
        with _waits_lock:
            if _waits.get(pusher_id) == due:
                del _waits[pusher_id]
        wake(pusher_id)
    timer = threading.Timer(delay_s, fire)
    timer.daemon = True
    timer.start()


@on_event_persisted
def _wake_on_event(persisted: PersistedEvent) -> None:
    if persisted.stream_ordering is None:
        return
    from apps.push.models import EventPushAction

    from . import stores

    users = list(EventPushAction.objects.filter(event_id=persisted.event.event_id, notify=True)
                 .values_list("user_id", flat=True))
    if not users:
        return
    for pusher_id in stores.pushers_of_users(users):
        wake(pusher_id)
