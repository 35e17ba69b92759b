"""What wakes the `appservice` queue: every event persisted on this process (after its commit), every
typing, receipt or presence change it writes (for services with `receive_ephemeral`), and the
periodic sweep (`appservice.sweep`, workers/beat.py) for work nobody woke (a lost message, a retry lost
with its worker).

A new service's state row is made here at the event's position minus one, so a service configured
while the server runs receives events from the first one persisted after it appeared.

With a broker, a wake-up is a Celery message and a retry a message with a countdown. In the embedded
default tasks run in-process (CELERY_TASK_ALWAYS_EAGER), where a countdown means nothing and a slow
service must not hold up the client whose event woke it: there, deliveries run on one background thread
of this process, and a retry is a timer feeding that thread. Tests turn the thread off
(`IN_PROCESS_THREAD = False`) to run deliveries inline and drive retries by hand.
"""
from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from apps.rooms.persister import PersistedEvent, on_event_persisted

from . import registry, stores

logger = logging.getLogger(__name__)

IN_PROCESS_THREAD = True
_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _eager() -> bool:
    from hsproject.celery import app

    return bool(app.conf.task_always_eager)


def _run_in_background(service_id: str) -> None:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="appservice")
    _executor.submit(_run, service_id)


def _run(service_id: str) -> None:
    from django.db import connection

    from workers.appservice import send_transactions

    try:
        send_transactions.apply((service_id,))
    except Exception:
        logger.exception("delivery to application service %s failed", service_id)
    finally:
        connection.close()  # this thread's own connection; never left open between runs


def wake(service_id: str) -> None:
    """Ask for a delivery run for the service (call after the commit of the work it should see)."""
    from workers.appservice import send_transactions

    if _eager() and IN_PROCESS_THREAD:
        _run_in_background(service_id)
    elif _eager():
        send_transactions.apply((service_id,))
    else:
        send_transactions.delay(service_id)


@on_event_persisted
def _wake_on_event(persisted: PersistedEvent) -> None:
    if persisted.stream_ordering is None:
        return
    targets = [s for s in registry.services() if s.url is not None]
    if not targets:
        return
    from django.db import transaction

    for service in targets:
        stores.ensure_state(service.id, persisted.stream_ordering - 1)
        transaction.on_commit(lambda service_id=service.id: wake(service_id))


def on_stream_advanced(stream: str, writer: str, position: int, rows) -> None:
    """Replication listener (apps.streams.replication.add_process_listener): a typing, receipt or presence
    change committed by THIS process wakes the services that receive ephemeral data. Only the writer
    wakes them, so N processes hearing the change do not send N wake-ups."""
    from hsproject import instance

    from .ephemeral import STREAMS

    if stream not in STREAMS or writer != instance.name():
        return
    for service in registry.services():
        if service.url is not None and service.receive_ephemeral:
            wake(service.id)


def schedule_retry(service_id: str, delay_ms: int) -> None:
    from workers.appservice import send_transactions

    if not _eager():
        send_transactions.apply_async((service_id,), countdown=max(1.0, delay_ms / 1000))
        return
    if not IN_PROCESS_THREAD:
        return
    timer = threading.Timer(max(0.05, delay_ms / 1000), _run_in_background, (service_id,))
    timer.daemon = True
    timer.start()
