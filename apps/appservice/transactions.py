"""Pushing events to application services (spec: application-service API, "Pushing events").

Flow (one call of `deliver(service_id)`, run by the `appservice.send_transactions` task):

    take the service's lease (AppServiceState row; one sender per service at a time)
    loop:
        in backoff?                       -> stop, retry when it ends
        no transaction in flight:
            read timeline events in (stream_position, persisted-up-to], 100 at most, in stream order
            none of interest              -> stream_position jumps over them; next page
            else                          -> record the transaction (id, body, up-to) BEFORE sending it
        PUT {url}/_matrix/app/v1/transactions/{txnId} with the recorded body
            2xx                           -> stream_position = up-to, transaction cleared, backoff reset
            anything else                 -> failures += 1, retry_at = now + backoff; stop
    release the lease

Because the transaction is recorded before it is sent and only cleared on a 2xx, a retry after a
failure, a crash or a lost answer re-sends the same events under the same id (the service de-duplicates
by id), and nothing is skipped: the durable position moves only past acknowledged or uninteresting
events. A Celery message only says "look again"; the database says what to send.

Interest (spec: "Registration"): a service wants an event whose sender, or whose state_key, is in its
users namespace (or is its sender), an event of a room whose ID is in its rooms namespace, of a room
with a local alias in its aliases namespace, or of a room where one of its users is joined. Membership
and aliases are read when the transaction is built.

`receive_ephemeral`: typing, receipts and presence after the service's positions in those streams join the
same transaction under `ephemeral` (apps.appservice.ephemeral); their positions move with it.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from apps.core.ids import is_local_id
from apps.core import leases
from hsproject.config.appservices import AppServiceRegistration

from . import client, ephemeral, registry, stores

logger = logging.getLogger(__name__)

MAX_EVENTS_PER_TRANSACTION = 100
# Longer than one transaction can take on the wire (client.TRANSACTION_TIMEOUT), so a live sender never
# loses its lease mid-request; a crashed sender's lease simply expires.
LEASE_MS = 120_000
BACKOFF_BASE_MS = 1_000
BACKOFF_MAX_MS = 300_000


@dataclass(frozen=True)
class DeliveryResult:
    status: str  # "idle" (all delivered), "backoff", "failed", "busy" (another sender), "no_url"
    transactions: int = 0
    events: int = 0
    retry_in_ms: int | None = None

    def as_dict(self) -> dict:
        return {"status": self.status, "transactions": self.transactions, "events": self.events,
                "retry_in_ms": self.retry_in_ms}


def backoff_ms(failures: int) -> int:
    """Exponential: 1 s, 2 s, 4 s ... capped at 5 minutes (spec: "backoff exponentially")."""
    return min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * (2 ** max(0, failures - 1)))


def room_interest(service: AppServiceRegistration, room_id: str, members: list[str], aliases: list[str]) -> bool:
    if registry.is_room_in_namespace(service, room_id):
        return True
    if any(registry.is_alias_in_namespace(service, a) for a in aliases):
        return True
    return any(is_local_id(u) and registry.is_user_in_namespace(service, u) for u in members)


def interesting_event_ids(service: AppServiceRegistration, rows: list[tuple]) -> list[str]:
    """The event IDs among `rows` (from `stores.timeline_rows_between`) that the service wants, in order."""
    room_ids = {r[2] for r in rows}
    members = stores.joined_members(room_ids)
    aliases = stores.local_aliases(room_ids)
    rooms = {rid: room_interest(service, rid, members.get(rid, []), aliases.get(rid, [])) for rid in room_ids}
    out = []
    for _pos, event_id, room_id, sender, state_key in rows:
        if rooms[room_id] or registry.is_user_in_namespace(service, sender) or (
                isinstance(state_key, str) and state_key.startswith("@")
                and registry.is_user_in_namespace(service, state_key)):
            out.append(event_id)
    return out


def transaction_body(event_ids: list[str], ephemeral: list[dict] | None = None) -> dict:
    from apps.rooms.serialize import client_event
    from apps.rooms.stores import get_events

    events = get_events(event_ids)
    now = int(time.time() * 1000)
    body: dict = {"events": [client_event(events[e], now_ms=now) for e in event_ids if e in events]}
    if ephemeral:
        # The stable key (spec v1.13) and MSC2409's, which bridges written before it still read.
        body["ephemeral"] = ephemeral
        body["de.sorunome.msc2409.ephemeral"] = ephemeral
    return body


def deliver(service_id: str) -> DeliveryResult:
    service = registry.by_id(service_id)
    if service is None or service.url is None:
        return DeliveryResult("no_url")
    stores.ensure_state(service.id, stores.events_persisted_up_to())
    total_txns = total_events = 0
    while True:
        result = _deliver_under_lease(service)
        total_txns += result.transactions
        total_events += result.events
        # A wake-up that came while we held the lease found it busy and left: look once more after
        # releasing it, so an event committed in that window is not left for the next wake-up.
        state = stores.get_state(service.id)
        if result.status != "idle" or state is None or not _has_pending(service, state):
            return DeliveryResult(result.status, total_txns, total_events, result.retry_in_ms)


def _has_pending(service: AppServiceRegistration, state) -> bool:
    if state.stream_position < stores.events_persisted_up_to():
        return True
    return service.receive_ephemeral and ephemeral.has_pending(state.ephemeral_positions or {})


def _deliver_under_lease(service: AppServiceRegistration) -> DeliveryResult:
    # One run's own name: two threads of a brokerless process must not both hold the service.
    owner = leases.new_owner()
    if not stores.take_lease(service.id, owner, LEASE_MS):
        return DeliveryResult("busy")
    sent = events_sent = 0
    try:
        while True:
            state = stores.get_state(service.id)
            if state is None or state.lease_owner != owner:
                return DeliveryResult("busy", sent, events_sent)
            now = stores.now_ms()
            if state.retry_at_ms is not None and state.retry_at_ms > now:
                return DeliveryResult("backoff", sent, events_sent, state.retry_at_ms - now)
            if state.txn_id is None:
                up_to = stores.events_persisted_up_to()
                rows = (stores.timeline_rows_between(state.stream_position, up_to, MAX_EVENTS_PER_TRANSACTION)
                        if up_to > state.stream_position else [])
                page_end = rows[-1][0] if len(rows) == MAX_EVENTS_PER_TRANSACTION else max(up_to, state.stream_position)
                wanted = interesting_event_ids(service, rows) if rows else []
                eph_positions = state.ephemeral_positions or {}
                eph, eph_up_to = (ephemeral.collect(service, eph_positions) if service.receive_ephemeral
                                  else ([], eph_positions))
                if not wanted and not eph:
                    if page_end == state.stream_position and eph_up_to == eph_positions:
                        return DeliveryResult("idle", sent, events_sent)
                    stores.update_state(service.id, owner, stream_position=page_end, ephemeral_positions=eph_up_to)
                    continue
                body = transaction_body(wanted, eph)
                if not stores.update_state(service.id, owner, txn_id=state.next_txn_id, txn_body=body,
                                           txn_up_to=page_end, txn_ephemeral_up_to=eph_up_to,
                                           next_txn_id=state.next_txn_id + 1):
                    return DeliveryResult("busy", sent, events_sent)
                txn_id, txn_up_to, txn_eph_up_to = state.next_txn_id, page_end, eph_up_to
            else:
                txn_id, body, txn_up_to = state.txn_id, state.txn_body, state.txn_up_to
                txn_eph_up_to = state.txn_ephemeral_up_to if state.txn_ephemeral_up_to is not None \
                    else (state.ephemeral_positions or {})
            try:
                client.put_transaction(service, txn_id, body)
            except client.TransactionFailed as e:
                failures = state.failures + 1
                wait = backoff_ms(failures)
                logger.warning("application service %s: transaction %s failed (%s); retrying in %d ms",
                               service.id, txn_id, e, wait)
                stores.update_state(service.id, owner, failures=failures, retry_at_ms=stores.now_ms() + wait,
                                    last_error=str(e)[:1000])
                return DeliveryResult("failed", sent, events_sent, wait)
            stores.update_state(service.id, owner, stream_position=txn_up_to, txn_id=None, txn_body=None,
                                txn_up_to=None, ephemeral_positions=txn_eph_up_to, txn_ephemeral_up_to=None,
                                failures=0, retry_at_ms=None, last_error=None,
                                lease_until_ms=stores.now_ms() + LEASE_MS)
            sent += 1
            events_sent += len(body.get("events", ()))
    finally:
        stores.release_lease(service.id, owner)


def services_with_work() -> list[str]:
    """Services (with a URL) that have something to send and are not backing off: what a sweep wakes."""
    up_to = stores.events_persisted_up_to()
    now = stores.now_ms()
    out = []
    for service in registry.services():
        if service.url is None:
            continue
        state = stores.get_state(service.id)
        if state is None:
            stores.ensure_state(service.id, up_to)
            continue
        if state.retry_at_ms is not None and state.retry_at_ms > now:
            continue
        if state.txn_id is not None or _has_pending(service, state):
            out.append(service.id)
    return out
