"""Redactions (client-server API, "Redactions"; rooms/v3+ "Handling redactions").

    PUT /rooms/{roomId}/redact/{eventId}/{txnId}   ->  `redact_event`

Sending: an `m.room.redaction` (v11+: `redacts` in `content`, earlier at the top level), idempotent
per (user, device, room, txn id) like any send. Before building it: the redacted event must be an
event of this room (cross-room redactions are refused), and the sender must be its sender or have
the room's `redact` power level (v1/v2 also check this in the auth rules; from v3 on the auth rules
let any redaction through and the server decides when applying it).

Recording: the redacted event's row gets `EventRow.redacted_by` (first applicable redaction wins),
in the redaction's own transaction for local ones; for events persisted by the pipeline from other
servers, `_on_persisted` records it after the commit when the redaction is applicable: same room and
the redaction's sender of the redacted event's server, or with the `redact` power level at the
redaction. (A redaction that arrives before the event it names is not recorded yet.)

Serving: `apply_redactions(events)` returns each redacted event pruned (`redaction.prune_event`) with
`unsigned.redacted_because` = the redaction; two queries at most, whatever the number of events.
"""
from __future__ import annotations

import logging
from typing import Sequence

from django.db import IntegrityError, transaction

from apps.core.errors import Codes, MatrixError

from . import state_store, stores
from .creation import create_local_event
from .events import Event
from .models import EventRow
from .persister import PersistedEvent, on_event_persisted
from .power_levels import get_named_level, get_user_power_level
from .redaction import prune_event

logger = logging.getLogger(__name__)


def _domain(user_id: str) -> str:
    return user_id.split(":", 1)[1] if ":" in user_id else ""


def _has_redact_power(user_id: str, room_id: str, rv, state: dict | None = None) -> bool:
    keys = [("m.room.create", ""), ("m.room.power_levels", "")]
    ids = (state_store.current_state(room_id, keys) if state is None
           else {k: state[k] for k in keys if k in state})
    found = stores.get_events(ids.values())
    auth = {k: found[eid] for k, eid in ids.items() if eid in found}
    return get_user_power_level(user_id, auth, rv) >= get_named_level(auth, "redact", 50, rv)


# --- sending ---------------------------------------------------------------------------------------

def redact_event(requester, room_id: str, event_id: str, txn_id: str, reason: str | None = None) -> str:
    """PUT /rooms/{roomId}/redact/{eventId}/{txnId}: the redaction's event ID."""
    device_id = requester.device_id
    if device_id is not None:
        existing = stores.event_for_txn(requester.user_id, device_id, room_id, txn_id)
        if existing is not None:
            return existing
    room = stores.get_room(room_id)
    if room is None:
        raise MatrixError(Codes.NOT_FOUND, "Unknown room", 404)
    membership = stores.membership_of(room_id, requester.user_id)
    if membership is None or membership[0] != "join":
        raise MatrixError(Codes.FORBIDDEN, "You are not in this room", 403)
    target = stores.get_event(event_id)
    if target is None or target.room_id != room_id or target.internal.outlier or target.rejected:
        # Also for an event of another room: a redaction never crosses rooms.
        raise MatrixError(Codes.NOT_FOUND, "Event not found in this room", 404)
    if target.sender != requester.user_id:
        from apps.accounts.auth import require_not_suspended

        require_not_suspended(getattr(requester, "user", None))  # spec: only its own events while suspended
    rv = target.room_version
    authorised = _has_redact_power(requester.user_id, room_id, rv)
    if target.sender != requester.user_id and not authorised:
        raise MatrixError(Codes.FORBIDDEN, "You need the room's 'redact' power level to redact other users' events",
                          403)
    from . import ratelimits

    ratelimits.check_message(requester.user_id)
    content: dict = {}
    if reason is not None:
        content["reason"] = reason
    event_dict: dict = {"type": "m.room.redaction", "content": content}
    if rv.updated_redaction_rules:
        content["redacts"] = event_id
    else:
        event_dict["redacts"] = event_id
    try:
        with transaction.atomic():
            redaction, _ = create_local_event(requester, room_id, event_dict, txn_id=txn_id)
            _mark_redacted(event_id, redaction.event_id)
    except IntegrityError:
        # A concurrent request with the same transaction id won the race.
        existing = stores.event_for_txn(requester.user_id, device_id, room_id, txn_id) if device_id else None
        if existing is None:
            raise
        return existing
    return redaction.event_id


def _mark_redacted(event_id: str, redaction_id: str) -> None:
    EventRow.objects.filter(event_id=event_id, redacted_by__isnull=True).update(redacted_by=redaction_id)


# --- recording redactions persisted by the pipeline (remote ones) ------------------------------------

def record_redaction(redaction: Event) -> bool:
    """Mark the event `redaction` names as redacted when the redaction is applicable. Idempotent."""
    if redaction.type != "m.room.redaction" or redaction.rejected or redaction.internal.soft_failed \
            or redaction.internal.outlier:
        return False
    target_id = redaction.redacts
    target = stores.get_event(target_id) if target_id else None
    if target is None or target.room_id != redaction.room_id:
        return False
    if _domain(target.sender) != _domain(redaction.sender):
        state = state_store.state_before_event(redaction.event_id) or {}
        if not _has_redact_power(redaction.sender, redaction.room_id, redaction.room_version, state):
            return False
    _mark_redacted(target.event_id, redaction.event_id)
    return True


@on_event_persisted
def _on_persisted(persisted: PersistedEvent) -> None:
    event = persisted.event
    if event.type != "m.room.redaction" or persisted.stream_ordering is None:
        return
    with transaction.atomic():
        record_redaction(event)


# --- serving ---------------------------------------------------------------------------------------

def apply_redactions(events: Sequence[Event]) -> list[Event]:
    """`events`, each redacted one pruned and carrying `unsigned.redacted_because`."""
    if not events:
        return []
    ids = [e.event_id for e in events]
    redacted = dict(EventRow.objects.filter(event_id__in=ids, redacted_by__isnull=False)
                    .values_list("event_id", "redacted_by"))
    if not redacted:
        return list(events)
    redactions = stores.get_events(redacted.values())
    out = []
    for e in events:
        r = redactions.get(redacted.get(e.event_id, ""))
        if r is None:
            out.append(e)
            continue
        pruned = prune_event(e)
        pruned.unsigned["redacted_because"] = r
        out.append(pruned)
    return out
