"""The rules of delayed events (MSC4140 as Synapse serves it, unstable prefix `org.matrix.msc4140`).

  PUT /rooms/{roomId}/send/{eventType}/{txnId}?org.matrix.msc4140.delay=<ms>
  PUT /rooms/{roomId}/state/{eventType}/{stateKey}?org.matrix.msc4140.delay=<ms>
      `schedule`: the delay is checked against `max_event_delay_duration`; the event is built and checked
      against the room's current state now, so that a user who may not send it is told at once rather
      than never; the row is stored and, after the commit, a wake-up is queued for its due time
      (apps.delayed_events.wakeups). The send's transaction ID makes a retried request return the same
      delay_id.
  background.send_delayed_events (a countdown wake-up, and the beat's sweep)
      `send_due(now_ms)`: claims the due rows one at a time and sends each as its user through the rooms
      app's event creation, so the auth rules are applied again against the state at sending time. A
      refused send is recorded as `failed` and never retried; a transient error (a 5xx, the network, the
      database) is retried MAX_ATTEMPTS times in all, then recorded as failed.
  GET  /_matrix/client/unstable/org.matrix.msc4140/delayed_events            `pending_for_user`
  POST /_matrix/client/unstable/org.matrix.msc4140/delayed_events/{delayId}  `update`: cancel, restart, send
  A state event that becomes the room's current state cancels the pending delayed state events of
  OTHER users for the same room, type and state key (`state_event_persisted`, as Synapse does from its
  state deltas): a delayed "leave" must not overwrite what someone else has set meanwhile.

Functions that depend on the time take `now_ms`, so that tests run the sweep on a simulated clock.
"""
from __future__ import annotations

import logging
import re
import time

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError

from apps.core import ratelimit
from apps.core.errors import Codes, MatrixError
from apps.core.ids import UserID, is_local_id
from hsproject.config.sections import RateLimit

from . import stores, wakeups
from .models import DelayedEvent

logger = logging.getLogger(__name__)

DELAY_PARAM = "org.matrix.msc4140.delay"
UNSTABLE_ERRCODE = "org.matrix.msc4140.errcode"
UNSTABLE_MAX_DELAY = "org.matrix.msc4140.max_delay"
ACTIONS = ("cancel", "restart", "send")
# Synapse's default `rc_delayed_event_mgmt` (listing and the three actions, per user); used until the
# configuration has that key.
MGMT_RATE_LIMIT = RateLimit(1.0, 5)
# A claimed row whose sender died mid-send is due again after this long.
SEND_LEASE_MS = 5 * 60_000
# Sending attempts in all when the failures are transient, spaced RETRY_BASE_MS, twice that, ...
MAX_ATTEMPTS = 3
RETRY_BASE_MS = 10_000
# Rows per sweep; a full batch asks for another sweep at once (`more`).
SWEEP_BATCH = 200
# Finished rows stay for the admin console (why did it fail?) and for the transaction-ID lookup.
FINALISED_RETENTION_MS = 7 * 86_400_000
# The transaction ID a delayed message is sent with: with the device's transaction IDs (rooms' TxnId), a
# send repeated after a worker died mid-send finds the event already there instead of sending it twice.
TXN_PREFIX = "org.matrix.msc4140."

_DIGITS = re.compile(r"[0-9]+")


def _now_ms() -> int:
    return int(time.time() * 1000)


def _not_found() -> MatrixError:
    # Also the answer for another user's delay_id: its existence is not revealed.
    return MatrixError(Codes.NOT_FOUND, "Delayed event not found", 404)


# --- scheduling --------------------------------------------------------------------------------------

def parse_delay(raw: str | None) -> int:
    """The `org.matrix.msc4140.delay` query parameter: a non-negative integer of milliseconds."""
    if raw is None or not _DIGITS.fullmatch(raw):
        raise MatrixError(Codes.INVALID_PARAM, f"Query parameter {DELAY_PARAM} must be a non-negative integer", 400)
    digits = raw.lstrip("0") or "0"
    # Longer than any configurable maximum: kept out of int() (Python caps digit strings) and the database.
    return int(digits) if len(digits) <= 18 else 10**18


def check_delay(delay_ms: int) -> None:
    """Synapse's answers, which clients (matrix-js-sdk, Element Call) read: 400 M_UNKNOWN with the
    unstable errcode M_MAX_DELAY_UNSUPPORTED when the feature is off, M_MAX_DELAY_EXCEEDED and the
    maximum when the delay is longer."""
    max_ms = settings.HS.max_event_delay_duration_ms
    if max_ms is None:
        raise MatrixError(Codes.UNKNOWN, "Delayed events are not supported on this server", 400,
                          **{UNSTABLE_ERRCODE: "M_MAX_DELAY_UNSUPPORTED"})
    if delay_ms > max_ms:
        raise MatrixError(Codes.UNKNOWN, f"The requested delay exceeds the allowed maximum ({max_ms} ms).", 400,
                          **{UNSTABLE_ERRCODE: "M_MAX_DELAY_EXCEEDED", UNSTABLE_MAX_DELAY: max_ms})


def check_sendable(user_id: str, room_id: str, event_dict: dict) -> None:
    """Build the event as it would be sent now and check its format and the auth rules against the room's
    current state, without persisting it. Raises what sending it now would raise (404 unknown room, 403,
    400 for a malformed or too large event)."""
    from apps.rooms import state_store
    from apps.rooms import stores as room_stores
    from apps.rooms.auth_rules import auth_types_for_event, check_auth_rules
    from apps.rooms.creation import MAX_DEPTH, build_event
    from apps.rooms.event_format import check_pdu_format
    from apps.rooms.events import Event
    from apps.rooms.persister import EventContext
    from apps.rooms.power_levels import CREATE_KEY
    from apps.rooms.room_versions import get_room_version

    room = room_stores.get_room(room_id)
    if room is None:
        raise MatrixError(Codes.NOT_FOUND, "Unknown room", 404)
    if event_dict["type"] == "m.room.canonical_alias" and event_dict.get("state_key") == "":
        from apps.rooms.aliases import check_canonical_alias

        check_canonical_alias(room_id, event_dict["content"])
    rv = get_room_version(room.room_version)
    probe = Event({**event_dict, "sender": user_id, "room_id": room_id}, rv)
    state = state_store.current_state(room_id, set(auth_types_for_event(probe)) | {CREATE_KEY})
    extremities = room_stores.forward_extremities(room_id)
    depth = min(max((d for _, d in extremities), default=0) + 1, MAX_DEPTH)
    event = build_event(rv=rv, room_id=room_id, sender=user_id, event_dict=event_dict,
                        prev_ids=[eid for eid, _ in extremities], depth=depth,
                        context=EventContext(state_before=state))
    check_pdu_format(event.pdu, rv)
    found = room_stores.get_events(state.values())
    check_auth_rules(event, {key: found[eid] for key, eid in state.items() if eid in found})


def schedule(requester, room_id: str, event_type: str, content: dict, *, delay_ms: int,
             state_key: str | None = None, txn_id: str | None = None, now_ms: int | None = None) -> str:
    """Store a delayed event of `requester`'s; returns its delay_id."""
    from apps.rooms import ratelimits

    check_delay(delay_ms)
    user_id, device_id = requester.user_id, requester.device_id
    keyed = txn_id is not None and device_id is not None
    if keyed:
        existing = stores.by_txn(user_id, device_id, room_id, txn_id)
        if existing is not None:
            return existing.delay_id
    ratelimits.check_message(user_id)  # as Synapse: scheduling counts against rc_message; sending does not
    event_dict: dict = {"type": event_type, "content": content}
    if state_key is not None:
        event_dict["state_key"] = state_key
    check_sendable(user_id, room_id, event_dict)
    now = _now_ms() if now_ms is None else now_ms
    try:
        row = stores.add(user_id=user_id, device_id=device_id, txn_id=txn_id, room_id=room_id,
                         event_type=event_type, state_key=state_key, content=content,
                         origin_server_ts=getattr(requester, "origin_server_ts", None), delay_ms=delay_ms,
                         now_ms=now)
    except IntegrityError:
        # A concurrent request with the same transaction ID stored it first.
        existing = stores.by_txn(user_id, device_id, room_id, txn_id) if keyed else None
        if existing is None:
            raise
        return existing.delay_id
    wakeups.wake_on_commit(row.send_ts)
    return row.delay_id


# --- management --------------------------------------------------------------------------------------

def _count_mgmt(user_id: str) -> None:
    from apps.appservice.registry import is_rate_limit_exempt

    if not is_rate_limit_exempt(user_id):
        limit = getattr(settings.HS, "rc_delayed_event_mgmt", None) or MGMT_RATE_LIMIT
        ratelimit.check(f"rc_delayed_event_mgmt:{user_id}", limit)


def describe(row: DelayedEvent) -> dict:
    """One entry of the listing, in Synapse's shape."""
    out = {"delay_id": row.delay_id, "room_id": row.room_id, "type": row.event_type}
    if row.state_key is not None:
        out["state_key"] = row.state_key
    out.update(delay=row.delay_ms, running_since=row.running_since_ms, content=stores.content_of(row))
    return out


def pending_for_user(user_id: str) -> list[dict]:
    _count_mgmt(user_id)
    wakeups.ensure_running()
    return [describe(row) for row in stores.pending_of(user_id)]


def update(user_id: str, delay_id: str, action: str, *, now_ms: int | None = None) -> None:
    """Cancel, restart (the timer starts again from now) or send now one of the user's pending delayed
    events. A failed `send` is recorded and its error is the answer."""
    if action not in ACTIONS:
        raise MatrixError(Codes.INVALID_PARAM, "'action' is not one of " + ", ".join(f"'{a}'" for a in ACTIONS), 400)
    _count_mgmt(user_id)
    wakeups.ensure_running()
    now = _now_ms() if now_ms is None else now_ms
    if action == "cancel":
        if not stores.cancel(user_id, delay_id, now, "cancelled by its sender"):
            raise _not_found()
    elif action == "restart":
        send_ts = stores.restart(user_id, delay_id, now)
        if send_ts is None:
            raise _not_found()
        wakeups.wake_on_commit(send_ts)
    else:
        row = stores.claim(user_id, delay_id, now)
        if row is None:
            raise _not_found()
        _send_claimed(row, now, retry=False, raise_errors=True)


# --- sending -----------------------------------------------------------------------------------------

def _requester_for(row: DelayedEvent):
    """The user, on the device that scheduled it if it still exists (as Synapse's `create_requester`)."""
    from apps.accounts.auth import Requester
    from apps.accounts.models import Device, User

    user = User.objects.filter(localpart=UserID.parse(row.user_id).localpart).first()
    if user is None or user.deactivated:
        raise MatrixError(Codes.FORBIDDEN, f"{row.user_id} is deactivated", 403)
    device = Device.objects.filter(user=user, device_id=row.device_id).first() if row.device_id else None
    return Requester(user=user, device=device, access_token=None, is_guest=user.is_guest,
                     origin_server_ts=row.origin_server_ts)


def _send_as_user(row: DelayedEvent) -> str:
    """Send the event through the rooms app, as the PUT it replaced would have (the state dedup of
    PUT /state included); returns its event ID."""
    from apps.rooms import handlers as room_handlers
    from apps.rooms import stores as room_stores
    from apps.rooms.creation import create_local_event

    requester = _requester_for(row)
    content = stores.content_of(row)
    if row.state_key is not None:
        return room_handlers.set_state(requester, row.room_id, row.event_type, row.state_key, content)
    txn_id = TXN_PREFIX + row.delay_id
    device_id = requester.device_id
    if device_id is not None:
        existing = room_stores.event_for_txn(row.user_id, device_id, row.room_id, txn_id)
        if existing is not None:
            return existing
    try:
        event, _ = create_local_event(requester, row.room_id, {"type": row.event_type, "content": content},
                                      txn_id=txn_id)
    except IntegrityError:
        # A sender whose claim had gone stale persisted it meanwhile.
        existing = room_stores.event_for_txn(row.user_id, device_id, row.room_id, txn_id) if device_id else None
        if existing is None:
            raise
        return existing
    return event.event_id


def _send_claimed(row: DelayedEvent, now_ms: int, *, retry: bool, raise_errors: bool = False) -> str:
    """Send a row this caller claimed and record the outcome: `sent`, `retrying` or `failed`."""
    error: Exception | None = None
    try:
        event_id = _send_as_user(row)
    except MatrixError as e:
        error, transient, detail = e, e.status >= 500, f"{e.errcode}: {e.error}"
    except (OSError, OperationalError, InterfaceError) as e:
        error, transient, detail = e, True, f"{type(e).__name__}: {e}"
    except Exception as e:  # a bug: recorded and logged, never retried
        logger.exception("delayed event %s of %s could not be sent", row.delay_id, row.user_id)
        error, transient, detail = e, False, f"internal error: {type(e).__name__}"
    else:
        stores.finish(row, DelayedEvent.SENT, now_ms, event_id=event_id)
        return "sent"
    if retry and transient and row.attempts + 1 < MAX_ATTEMPTS:
        stores.retry_later(row, now_ms + RETRY_BASE_MS * 2 ** row.attempts, detail)
        return "retrying"
    stores.finish(row, DelayedEvent.FAILED, now_ms, detail=detail)
    logger.info("delayed event %s of %s in %s failed: %s", row.delay_id, row.user_id, row.room_id, detail)
    if raise_errors:
        raise error
    return "failed"


def send_due(now_ms: int | None = None, *, limit: int = SWEEP_BATCH) -> dict:
    """Send every delayed event due at `now_ms` (at most `limit`); the body of the `background` task."""
    now = _now_ms() if now_ms is None else now_ms
    counts = {"sent": 0, "retrying": 0, "failed": 0}
    counts["released"] = stores.release_stale_claims(now - SEND_LEASE_MS)
    more = False
    for _ in range(limit):
        row = stores.claim_next_due(now)
        if row is None:
            break
        counts[_send_claimed(row, now, retry=True)] += 1
    else:
        more = True
    counts["purged"] = stores.purge_finalised(now - FINALISED_RETENTION_MS)
    return {**counts, "more": more, "next_send_ts": stores.next_send_ts()}


# --- state supersedes delayed state ------------------------------------------------------------------

def state_event_persisted(room_id: str, event_type: str, state_key: str, event_id: str, sender: str,
                          *, now_ms: int | None = None) -> int:
    """A state event was persisted into the room's timeline: if it is now the current state, the other
    users' pending delayed events for the same state are cancelled (a remote sender's cancels every local
    user's). Returns how many were cancelled."""
    now = _now_ms() if now_ms is None else now_ms
    keep = sender if is_local_id(sender) else None
    return stores.cancel_superseded_state(room_id, event_type, state_key, keep_user=keep, now_ms=now,
                                          event_id=event_id, detail=f"superseded by {event_id} from {sender}")
