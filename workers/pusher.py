"""Tasks of the `pusher` queue (DESIGN section 6; Synapse's pusher workers).

`pusher.push(pusher_id)` is a wake-up: it pushes everything after the pusher's durable position
(apps.push_delivery.delivery), one sender per pusher whatever the number of workers, and when the gateway
is down schedules itself again after the backoff; an email pusher whose batch is not due yet is woken
again when it is. `pusher.sweep` (beat) wakes pushers with work that no
message announced.
"""
from __future__ import annotations

from hsproject.celery import app

from .base import WakeupTask


@app.task(base=WakeupTask, name="pusher.push")
def push(pusher_id: int) -> dict:
    from apps.push_delivery.delivery import deliver
    from apps.push_delivery.wakeups import schedule_retry, schedule_wait

    result = deliver(pusher_id)
    if result.status == "failed":
        schedule_retry(pusher_id, result.retry_in_ms)
    elif result.status == "waiting":
        schedule_wait(pusher_id, result.retry_in_ms)
    return result.as_dict()


@app.task(base=WakeupTask, name="pusher.sweep")
def sweep() -> list[int]:
    from apps.push_delivery.stores import pushers_with_work
    from apps.streams.replication import persisted_up_to

    woken = pushers_with_work(persisted_up_to("events"))
    for pusher_id in woken:
        push.delay(pusher_id)
    return woken
