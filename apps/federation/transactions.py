"""Inbound transactions: `PUT /_matrix/federation/v1/send/{txnId}` (operationId sendTransaction).

Spec: server-server API, "Transactions", "PDUs" ("Checks performed on receipt of a PDU"), "EDUs",
"Server Access Control Lists".

    receive_transaction(origin, txn_id, body)
      - a transaction already answered for (origin, txn_id) gets the stored response again, unprocessed
        (responses are kept a day, `stores.TXN_RESPONSE_TTL_MS`);
      - one transaction of an origin at a time, in arrival order (a per-origin lock in this process: the
        routing row balances /send by origin, so one process takes all of an origin's transactions);
      - each PDU, in order, for a room we know: the room's server ACL (a denied origin's PDU is
        ignored with an error), then `receive_pdu`; PDUs for rooms we do not know are ignored;
      - each EDU to the handler registered for its type (`apps.federation.edus`);
      - the response `{"pdus": {event_id: {} | {"error": ...}}}` is stored with the transaction.

    receive_pdu(origin, event)
      - already stored: nothing to do;
      - prev events missing: ask the origin for them (`POST /get_missing_events`, at most
        MISSING_EVENTS_LIMIT, down to the depth of our forward extremities) and run those through the
        pipeline first, oldest first;
      - still missing (a wider gap): the state before the event is asked of the origin
        (`GET /state/{roomId}?event_id=`), its events stored as outliers, and resolved with the
        states after the prev events we have; the event joins the timeline with that state (the
        missing prev events stay a gap in the graph);
      - the origin unreachable or unable to say: the event cannot be placed in the room's state, so it
        is kept as an outlier (authorised by its own auth events, stored, not in the timeline) rather
        than given a state computed from part of its history;
      - otherwise the one pipeline (`pipeline.process_remote_event`): signatures and hashes, auth,
        soft-fail, persist. A rejected event is reported with an error; a soft-failed one is not.
      - unknown auth events: the event is not stored (rejecting it would be permanent) and is
        reported with an error; the origin or another server may send it again.
"""
from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from django.db import transaction

from apps.core.errors import Codes, MatrixError
from apps.rooms import pipeline, state_store
from apps.rooms import stores as room_stores
from apps.rooms.event_format import check_pdu_format
from apps.rooms.events import Event
from apps.rooms.room_versions import get_room_version

from . import acl, client, edus, keyring, stores

logger = logging.getLogger(__name__)

MAX_PDUS = 50
MAX_EDUS = 100
MISSING_EVENTS_LIMIT = 10
# A /state answer with more events than this is not used (the event then stays an outlier).
MAX_STATE_EVENTS = 50_000

_locks_guard = threading.Lock()
_origin_locks: dict[str, threading.Lock] = {}


@contextmanager
def _origin_lock(origin: str):
    with _locks_guard:
        lock = _origin_locks.setdefault(origin, threading.Lock())
    with lock:
        yield


def receive_transaction(origin: str, txn_id: str, body: dict) -> dict[str, Any]:
    pdus, edu_list = body.get("pdus", []), body.get("edus", [])
    if not isinstance(pdus, list):
        raise MatrixError(Codes.BAD_JSON, "pdus must be a list", 400)
    if edu_list is None:
        edu_list = []
    if not isinstance(edu_list, list):
        raise MatrixError(Codes.BAD_JSON, "edus must be a list", 400)
    if len(pdus) > MAX_PDUS or len(edu_list) > MAX_EDUS:
        raise MatrixError(Codes.BAD_JSON, f"A transaction holds at most {MAX_PDUS} PDUs and {MAX_EDUS} EDUs", 400)
    stored = stores.stored_response(origin, txn_id)
    if stored is not None:
        return stored
    with _origin_lock(origin):
        stored = stores.stored_response(origin, txn_id)
        if stored is not None:
            return stored
        results: dict[str, dict] = {}
        rooms: dict[str, tuple] = {}
        for pdu in pdus:
            outcome = _receive_pdu_json(origin, pdu, rooms)
            if outcome is not None:
                results[outcome[0]] = outcome[1]
        for edu in edu_list:
            edus.dispatch(origin, edu)
        response = {"pdus": results}
        stores.store_response(origin, txn_id, response)
    return response


def _receive_pdu_json(origin: str, pdu: Any, rooms: dict[str, tuple]) -> tuple[str, dict] | None:
    """One PDU of a transaction: (event_id, result), or None for a PDU to ignore silently. `rooms`
    caches (room, origin allowed by its ACL) per room for the transaction."""
    if not isinstance(pdu, dict) or not isinstance(pdu.get("room_id"), str):
        return None
    if pdu["room_id"] not in rooms:
        found = room_stores.get_room(pdu["room_id"])
        rooms[pdu["room_id"]] = (found, found is not None and acl.is_allowed(found.room_id, origin))
    room, allowed = rooms[pdu["room_id"]]
    if room is None:
        logger.info("Ignoring a PDU from %s for unknown room %s", origin, pdu["room_id"])
        return None
    rv = get_room_version(room.room_version)
    try:
        event = Event(pdu, rv)
        event_id = event.event_id
    except Exception:  # an event ID cannot even be computed: nothing to report it under
        return None
    if not isinstance(event_id, str):
        return None
    if not allowed:
        return event_id, {"error": "Server is banned from room"}
    try:
        receive_pdu(origin, event)
    except MatrixError as e:
        return event_id, {"error": e.error}
    except Exception as e:  # one bad PDU must not fail the others
        logger.exception("Failed to process PDU %s from %s", event_id, origin)
        return event_id, {"error": f"{type(e).__name__}"}
    return event_id, {}


def receive_pdu(origin: str, event: Event, *, fetch_missing: bool = True) -> None:
    """Check and persist one PDU (see the module docstring). Raises MatrixError when it is dropped or
    rejected."""
    prevs, auth_ids = event.prev_event_ids, event.auth_event_ids
    known = set(stores.known_event_ids([event.event_id, *prevs, *auth_ids]))
    if event.event_id in known:
        return
    check_pdu_format(event.pdu, event.room_version)
    # A prev event counts only with a state after it: one stored as an outlier is still a gap.
    missing = _without_state(prevs, known)
    state_before = None
    if missing and fetch_missing:
        _fetch_missing(origin, event)
        known |= set(stores.known_event_ids([*missing, *auth_ids]))
        missing = _without_state(prevs, known)
        if missing:
            state_before = _state_across_gap(origin, event, [p for p in prevs if p not in missing])
            if state_before is not None:
                known |= set(stores.known_event_ids(auth_ids))
                missing = []
    if any(i not in known for i in auth_ids):
        raise MatrixError(Codes.NOT_FOUND, "Unknown auth events; the event was not stored", 404)
    if missing:
        event.internal.outlier = True
    with transaction.atomic():
        pipeline.process_remote_event(event, keyring.key_lookup, state_before=state_before)
    # The pipeline records a rejection on the event's internal metadata (shared with a redacted copy).
    if event.internal.rejected_reason is not None:
        raise MatrixError(Codes.FORBIDDEN, f"Event rejected: {event.internal.rejected_reason}", 403)


def _without_state(prevs: list[str], known: set[str]) -> list[str]:
    placed = state_store.groups_for_events([p for p in prevs if p in known])
    return [p for p in prevs if p not in placed]


def _fetch_missing(origin: str, event: Event) -> None:
    """`POST /get_missing_events` to the origin; what comes back goes through the pipeline, oldest
    first. An unreachable origin or a bad answer leaves the gap as it was."""
    extremities = room_stores.forward_extremities(event.room_id)
    body = {"earliest_events": [eid for eid, _ in extremities], "latest_events": [event.event_id],
            "limit": MISSING_EVENTS_LIMIT, "min_depth": min((d for _, d in extremities), default=0)}
    path = f"/_matrix/federation/v1/get_missing_events/{quote(event.room_id, safe='')}"
    try:
        data = client.post_json(origin, path, body)
    except client.FederationError as e:
        logger.info("get_missing_events for %s from %s failed: %s", event.event_id, origin, e)
        return
    received = data.get("events") if isinstance(data, dict) else None
    if not isinstance(received, list):
        return
    events = [ev for ev in (_parse(p, event.room_version) for p in received[:MISSING_EVENTS_LIMIT])
              if ev is not None and ev.room_id == event.room_id]
    for ev in sorted(events, key=lambda e: (e.depth, e.event_id)):
        try:
            receive_pdu(origin, ev, fetch_missing=False)
        except MatrixError as e:
            logger.info("Missing event %s from %s not accepted: %s", ev.event_id, origin, e.error)
        except Exception:  # one bad missing event must not cost the event that needed it
            logger.exception("Missing event %s from %s failed", ev.event_id, origin)


def _state_across_gap(origin: str, event: Event, known_prevs: list[str]) -> dict | None:
    """The state before `event` when some of its prev events stay missing: the state the origin
    reports before it (`GET /state/{roomId}?event_id=`; its events and their auth chain are stored
    as outliers, each checked against its own auth events), resolved with the states after the prev
    events we have. None when the origin cannot say (then the event stays an outlier)."""
    path = f"/_matrix/federation/v1/state/{quote(event.room_id, safe='')}"
    try:
        data = client.get_json(origin, path, query={"event_id": event.event_id})
    except client.FederationError as e:
        logger.info("state at %s from %s failed: %s", event.event_id, origin, e)
        return None
    pdus = data.get("pdus") if isinstance(data, dict) else None
    chain = data.get("auth_chain") if isinstance(data, dict) else None
    if not isinstance(pdus, list) or not isinstance(chain, list) or len(pdus) + len(chain) > MAX_STATE_EVENTS:
        return None
    rv = event.room_version
    parsed: dict[str, Event] = {}
    state_ids: list[str] = []
    for is_state, pdu in [*((False, p) for p in chain), *((True, p) for p in pdus)]:
        ev = _parse(pdu, rv)
        if ev is None or ev.room_id != event.room_id:
            continue
        parsed[ev.event_id] = ev
        if is_state and ev.is_state():
            state_ids.append(ev.event_id)
    _store_outliers(origin, parsed)
    stored = room_stores.get_events(state_ids)
    remote_state = {ev.state_pair: ev.event_id for ev in stored.values() if not ev.rejected and ev.is_state()}
    if ("m.room.create", "") not in remote_state:
        return None
    groups = state_store.groups_for_events(known_prevs)
    states = [state_store.state_at(g[0]) for g in groups.values()] + [remote_state]
    return pipeline.resolve_states(event.room_id, rv, states)


def _parse(pdu, rv) -> Event | None:
    if not isinstance(pdu, dict):
        return None
    try:
        ev = Event(pdu, rv)
        ev.event_id  # noqa: B018 - computed now: an event whose ID cannot be computed is skipped
        ev.room_id  # noqa: B018
    except Exception:
        return None
    return ev


def _store_outliers(origin: str, events: dict[str, Event]) -> None:
    """Stores the events we lack as outliers, each once what authorises it is stored (its auth events;
    in v12 also the create event, which no event lists). Auth chains are closed under that relation,
    so each pass stores at least one event until none is left; what cannot be placed is dropped."""
    def needs(ev: Event) -> list[str]:
        create = ["$" + ev.room_id[1:]] if ev.room_version.room_id_from_create_event \
            and ev.type != "m.room.create" else []
        return [*ev.auth_event_ids, *create]

    already = set(stores.known_event_ids(events))
    pending = {eid: ev for eid, ev in events.items() if eid not in already}
    while pending:
        known = set(stores.known_event_ids({a for ev in pending.values() for a in needs(ev)}))
        ready = [ev for ev in pending.values() if all(a in known for a in needs(ev))]
        if not ready:
            return
        for ev in sorted(ready, key=lambda e: (e.depth, e.event_id)):
            pending.pop(ev.event_id)
            ev.internal.outlier = True
            try:
                with transaction.atomic():
                    pipeline.process_remote_event(ev, keyring.key_lookup)
            except MatrixError as e:
                logger.info("State event %s from %s not stored: %s", ev.event_id, origin, e.error)
