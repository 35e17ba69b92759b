"""What wakes the `appservice` queue: every event persisted on this process (after its commit), and the
periodic sweep (`appservice.sweep`, workers/beat.py) for work nobody woke (a lost message, a backoff
that ended while no event came).

A new service's state row is made here at the event's position minus one, so a service configured
while the server runs receives events from the first one persisted after it appeared.
"""
from __future__ import annotations

import logging
import threading

from apps.rooms.persister import PersistedEvent, on_event_persisted

from . import registry, stores

logger = logging.getLogger(__name__)

@on_event_persisted
def _wake_on_event(persisted: PersistedEvent) -> None:
    if persisted.stream_ordering is None:
        return
    targets = [s for s in registry.services() if s.url is not None]
    if not targets:
        return
    from workers.appservice import send_transactions
    from workers.base import enqueue_on_commit

    for service in targets:
        stores.ensure_state(service.id, persisted.stream_ordering - 1)
        enqueue_on_commit(send_transactions, service.id)


# In the embedded default tasks run in-process (CELERY_TASK_ALWAYS_EAGER), where a countdown means
# nothing: a retry after a backoff is a timer thread instead. Tests turn it off and drive time by hand.
IN_PROCESS_RETRY_TIMERS = True


def schedule_retry(service_id: str, delay_ms: int) -> None:
    from hsproject.celery import app
    from workers.appservice import send_transactions

    if not app.conf.task_always_eager:
        send_transactions.apply_async((service_id,), countdown=max(1.0, delay_ms / 1000))
        return
    if not IN_PROCESS_RETRY_TIMERS:
        return

    def run() -> None:
        from django.db import close_old_connections

        try:
            send_transactions.delay(service_id)
        except Exception:
            logger.exception("retry of application service %s failed", service_id)
        finally:
            close_old_connections()

    timer = threading.Timer(max(0.05, delay_ms / 1000), run)
    timer.daemon = True
    timer.start()
