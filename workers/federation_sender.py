"""Tasks of the `federation_sender` queue (DESIGN section 6; Synapse's federation sender workers).

`federation_sender.send(destination)` is a wake-up: it sends the destination's outbox as transactions
(apps.federation_sender.delivery), one transaction in flight per destination whatever the number of
workers, and when the destination is down schedules itself again after the backoff.
`federation_sender.heard_from(origin)` ends a backoff towards a server that just reached us.
`federation_sender.sweep` (beat) wakes destinations with work that no message announced.
"""
from __future__ import annotations

from hsproject.celery import app

from .base import WakeupTask


@app.task(base=WakeupTask, name="federation_sender.send")
def send(destination: str) -> dict:
    from apps.federation_sender.delivery import send_pending
    from apps.federation_sender.wakeups import schedule_retry

    result = send_pending(destination)
    if result.status == "failed":
        schedule_retry(destination, result.retry_in_ms)
    return result.as_dict()


@app.task(base=WakeupTask, name="federation_sender.heard_from")
def heard_from(origin: str) -> bool:
    from apps.federation_sender.stores import reset_backoff

    if reset_backoff(origin):
        send.delay(origin)
        return True
    return False


@app.task(base=WakeupTask, name="federation_sender.sweep")
def sweep() -> list[str]:
    from apps.federation_sender.delivery import sending_enabled
    from apps.federation_sender.stores import destinations_with_work
    from apps.streams.replication import persisted_up_to

    if not sending_enabled():
        return []
    woken = destinations_with_work(persisted_up_to("events"))
    for destination in woken:
        send.delay(destination)
    return woken
