"""Delivering one pusher's notifications, durably and once per worker pool.

    take the pusher's lease (one sender at a time, whatever the number of `-Q pusher` workers)
    in backoff?                         -> stop (the retry or the sweep comes back)
    for each notifying push action of the user after the pusher's position, up to what is persisted:
        build the notification, POST it to the gateway
        delivered  -> advance the position past it; rejected pushkeys remove their pushers
        refused    -> (a 4xx: cannot succeed) advance past it too, logged
        failed     -> failures += 1, retry_at = now + backoff; stop
    release the lease

Email pushers (`kind: email`) batch instead: apps.push_delivery.email, under the same lease and backoff.

The position only moves after the gateway answered, so a worker killed mid-send leaves the
notification to be sent again by the next run (at least once; a gateway deduplicates by event ID). A
lease outlives a killed worker only until it expires.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from apps.core import leases

from . import gateway, stores

logger = logging.getLogger(__name__)

LEASE_MS = 60_000
BATCH = 50
def _owner() -> str:
    return leases.this_owner()


@dataclass
class DeliveryResult:
    status: str  # "idle", "backoff", "failed", "busy", "gone", "waiting" (an email batch not due yet)
    sent: int = 0
    retry_in_ms: int | None = None

    def as_dict(self) -> dict:
        return {"status": self.status, "sent": self.sent, "retry_in_ms": self.retry_in_ms}


def backoff_ms(failures: int) -> int:
    """1 s, 2 s, 4 s ... capped at 10 minutes."""
    return min(1000 * 2 ** max(0, failures - 1), 600_000)


def _room_details(room_id: str, sender: str) -> dict:
    from apps.rooms import state_store
    from apps.rooms import stores as room_stores

    keys = {("m.room.name", ""), ("m.room.canonical_alias", ""), ("m.room.member", sender)}
    state = state_store.current_state(room_id, keys)
    events = room_stores.get_events(list(state.values()))

    def content(key) -> dict:
        ev = events.get(state.get(key, ""))
        return ev.content if ev is not None and isinstance(ev.content, dict) else {}
    return {"name": content(("m.room.name", "")).get("name"),
            "alias": content(("m.room.canonical_alias", "")).get("alias"),
            "sender_display_name": content(("m.room.member", sender)).get("displayname")}


def deliver(pusher_id: int, *, now_ms: int | None = None) -> DeliveryResult:
    """`now_ms`: the time email batching and throttling go by (tests move it; leases keep the clock)."""
    if not stores.take_lease(pusher_id, _owner(), LEASE_MS):
        return DeliveryResult("busy")
    try:
        pusher = stores.pusher(pusher_id)
        if pusher is not None and pusher.kind == "email":
            return _deliver_email(pusher, now_ms)
        return _deliver_under_lease(pusher_id)
    finally:
        stores.release_lease(pusher_id, _owner())


def _fail(pusher_id: int, app_id: str, state, error: str | None, sent: int) -> DeliveryResult:
    failures = (state.failures if state is not None else 0) + 1
    wait = backoff_ms(failures)
    logger.warning("pusher %s (%s): push failed (%s); retrying in %d ms", pusher_id, app_id, error, wait)
    stores.update_state(pusher_id, _owner(), failures=failures, retry_at_ms=stores.now_ms() + wait,
                        last_error=error)
    stores.mark_failing(pusher_id, stores.now_ms())
    return DeliveryResult("failed", sent, wait)


def _deliver_email(pusher, now_ms: int | None) -> DeliveryResult:
    from django.conf import settings

    from . import email

    if not settings.HS.email.enable_notifs:
        return DeliveryResult("gone")
    state = stores.state(pusher.pk)
    now = stores.now_ms()
    if state is not None and state.retry_at_ms is not None and state.retry_at_ms > now:
        return DeliveryResult("backoff", 0, state.retry_at_ms - now)
    outcome = email.deliver(pusher, now if now_ms is None else now_ms, _owner())
    if outcome.status == "failed":
        return _fail(pusher.pk, pusher.app_id, state, outcome.error, outcome.sent)
    if state is not None and state.failures:
        stores.update_state(pusher.pk, _owner(), failures=0, retry_at_ms=None, last_error=None)
    return DeliveryResult(outcome.status, outcome.sent, outcome.retry_in_ms)


def _deliver_under_lease(pusher_id: int) -> DeliveryResult:
    from apps.push.counts import badge_count
    from apps.push.stores import actions_for_pusher
    from apps.rooms import stores as room_stores
    from apps.streams.replication import persisted_up_to

    sent = 0
    while True:
        pusher = stores.pusher(pusher_id)
        if pusher is None or pusher.kind != "http":
            return DeliveryResult("gone", sent)
        state = stores.state(pusher_id)
        now = stores.now_ms()
        if state is not None and state.retry_at_ms is not None and state.retry_at_ms > now:
            return DeliveryResult("backoff", sent, state.retry_at_ms - now)
        up_to = persisted_up_to("events")
        actions = actions_for_pusher(pusher.user_id, pusher.last_stream_ordering, up_to, BATCH)
        if not actions:
            return DeliveryResult("idle", sent)
        events = room_stores.get_events([a.event_id for a in actions])
        url = (pusher.data or {}).get("url")
        for action in actions:
            event = events.get(action.event_id)
            if event is not None and isinstance(url, str):
                body = gateway.notification_body(pusher, action, event,
                                                 badge=badge_count(pusher.user_id, action.stream_ordering),
                                                 room=_room_details(event.room_id, event.sender))
                result = gateway.send(url, body)
                if result.outcome == "failed":
                    return _fail(pusher_id, pusher.app_id, state, result.error, sent)
                if result.outcome == "refused":
                    logger.warning("pusher %s (%s): the gateway refused %s (%s); dropped", pusher_id,
                                   pusher.app_id, action.event_id, result.error)
                else:
                    sent += 1
                if pusher.pushkey in result.rejected:
                    stores.delete_pushers_with_key(pusher.app_id, pusher.pushkey)
                    return DeliveryResult("gone", sent)
                for key in result.rejected:
                    stores.delete_pushers_with_key(pusher.app_id, key)
            if not stores.advance(pusher_id, _owner(), action.stream_ordering, success_ts=stores.now_ms()):
                return DeliveryResult("busy", sent)  # the lease ran out under us: the new holder goes on
        stores.update_state(pusher_id, _owner(), failures=0, retry_at_ms=None, last_error=None,
                            lease_until_ms=stores.now_ms() + LEASE_MS)
