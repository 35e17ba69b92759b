"""Tasks of the `appservice` queue (DESIGN section 6; Synapse's `notify_appservices_from_worker`).

`appservice.send_transactions(appservice_id)` is a wake-up: it delivers everything after the service's
durable position (apps.appservice.transactions), one transaction in flight per service, and when the
service is down schedules itself again after the backoff. `appservice.sweep` (beat) wakes services with
work that no message announced.
"""
from __future__ import annotations

from hsproject.celery import app

from .base import WakeupTask


@app.task(base=WakeupTask, name="appservice.send_transactions")
def send_transactions(appservice_id: str) -> dict:
    from apps.appservice.transactions import deliver
    from apps.appservice.wakeups import schedule_retry

    result = deliver(appservice_id)
    if result.status == "failed":
        # Only the run that recorded the failure schedules the retry: wake-ups that merely find the
        # service backing off do not, or every event sent meanwhile would add another delayed task.
        # A retry lost with its worker is found by the sweep.
        schedule_retry(appservice_id, result.retry_in_ms)
    return result.as_dict()


@app.task(base=WakeupTask, name="appservice.sweep")
def sweep() -> list[str]:
    from apps.appservice.transactions import services_with_work

    woken = services_with_work()
    for service_id in woken:
        send_transactions.delay(service_id)
    return woken
