"""Sending one destination its transactions, one at a time, whatever the number of workers.

    take the destination's lease (one transaction in flight per destination)
    send_federation off, or in backoff?          -> stop
    no transaction in flight: make one of the next PDUs (stream order, at most 50) and EDUs (at most 100),
        and record it (txnId, body, the outbox rows it carries) before sending it
    PUT /_matrix/federation/v1/send/{txnId}
        200    -> its rows leave the outbox, the backoff is reset; next transaction
        other  -> failures += 1, retry_at = now + backoff; stop (the same txnId and body go again)
    release the lease

Spec: server-server API, "Transactions": a transaction holds at most 50 PDUs and 100 EDUs; the receiver
deduplicates by (origin, txnId), so a transaction retried after a lost answer is processed once. A
worker killed mid-send leaves the transaction recorded: the next holder of the lease resends it.
"""
from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from urllib.parse import quote

from django.conf import settings

from apps.core import leases

from . import stores

logger = logging.getLogger(__name__)

LEASE_MS = 120_000
MAX_PDUS = 50
MAX_EDUS = 100
MAX_BACKOFF_MS = 6 * 3600 * 1000
def _owner() -> str:
    return leases.this_owner()


@dataclass
class SendResult:
    status: str  # "idle", "backoff", "failed", "busy", "disabled"
    transactions: int = 0
    retry_in_ms: int | None = None

    def as_dict(self) -> dict:
        return {"status": self.status, "transactions": self.transactions, "retry_in_ms": self.retry_in_ms}


def backoff_ms(failures: int) -> int:
    """1 s, 2 s, 4 s ... capped at 6 hours (a long-dead server is tried a few times a day)."""
    return min(1000 * 2 ** min(max(0, failures - 1), 40), MAX_BACKOFF_MS)


def sending_enabled() -> bool:
    return bool(settings.HS.workers.send_federation)


def send_pending(destination: str) -> SendResult:
    if not sending_enabled():
        return SendResult("disabled")
    if not stores.take_lease(destination, _owner(), LEASE_MS):
        return SendResult("busy")
    try:
        return _send_under_lease(destination)
    finally:
        stores.release_lease(destination, _owner())


def _new_transaction(destination: str) -> tuple[str, dict, list[int], list[int]] | None:
    from apps.rooms import stores as room_stores
    from apps.streams.replication import persisted_up_to

    pdu_rows = stores.next_pdus(destination, persisted_up_to("events"), MAX_PDUS)
    edu_rows = stores.next_edus(destination, MAX_EDUS)
    if not pdu_rows and not edu_rows:
        return None
    events = room_stores.get_events([eid for _, eid in pdu_rows])
    # The PDUs as stored: the signed event without `unsigned` (server-local data, spec "PDUs").
    pdus = [events[eid].get_pdu_json() for _, eid in pdu_rows if eid in events]
    edus = [{"edu_type": t, "content": c} for _, t, c in edu_rows]
    body = {"origin": settings.HS.server_name, "origin_server_ts": stores.now_ms(), "pdus": pdus, "edus": edus}
    txn_id = f"{stores.now_ms()}{uuid.uuid4().hex[:8]}"
    return txn_id, body, [pk for pk, _ in pdu_rows], [pk for pk, _, _ in edu_rows]


def _send_under_lease(destination: str) -> SendResult:
    from apps.federation import client

    sent = 0
    owner = _owner()
    while True:
        st = stores.state(destination)
        now = stores.now_ms()
        if st is not None and st.retry_at_ms is not None and st.retry_at_ms > now:
            return SendResult("backoff", sent, st.retry_at_ms - now)
        if st is not None and st.txn_id:
            txn_id, body, pdu_rows, edu_rows = st.txn_id, st.txn_body, st.txn_pdu_rows or [], st.txn_edu_rows or []
        else:
            made = _new_transaction(destination)
            if made is None:
                return SendResult("idle", sent)
            txn_id, body, pdu_rows, edu_rows = made
            if not stores.update_state(destination, owner, txn_id=txn_id, txn_body=body, txn_pdu_rows=pdu_rows,
                                       txn_edu_rows=edu_rows):
                return SendResult("busy", sent)
        error = None
        try:
            resp = client.request(destination, "PUT", f"/_matrix/federation/v1/send/{quote(txn_id, safe='')}",
                                  content=body)
            if resp.status_code != 200:
                error = f"answered {resp.status_code}: {resp.content[:200]!r}"
            else:
                _log_pdu_errors(destination, txn_id, resp.content)
        except client.FederationError as e:
            error = str(e)
        if error is not None:
            failures = (st.failures if st is not None else 0) + 1
            wait = backoff_ms(failures)
            logger.warning("federation: transaction %s to %s failed (%s); retrying in %d ms", txn_id, destination,
                           error, wait)
            stores.update_state(destination, owner, failures=failures, retry_at_ms=stores.now_ms() + wait,
                                last_error=error[:1000])
            return SendResult("failed", sent, wait)
        if not stores.complete_transaction(destination, owner, pdu_rows, edu_rows):
            return SendResult("busy", sent)  # the lease ran out under us: the new holder goes on
        sent += 1
        stores.update_state(destination, owner, lease_until_ms=stores.now_ms() + LEASE_MS)


def _log_pdu_errors(destination: str, txn_id: str, content: bytes) -> None:
    """A 200 may still refuse some PDUs (`pdus: {event_id: {error}}`): they are not retried (the
    receiver has decided), only logged."""
    try:
        results = json.loads(content).get("pdus") or {}
    except (ValueError, AttributeError):
        return
    if not isinstance(results, dict):
        return
    for event_id, result in results.items():
        if isinstance(result, dict) and result.get("error"):
            logger.info("federation: %s refused %s in transaction %s: %s", destination, event_id, txn_id,
                        result["error"])
