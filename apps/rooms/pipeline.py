"""The one pipeline every event goes through, local or received over federation (DESIGN.md 5).

    format  ->  signatures + hashes (remote)  ->  auth against its auth events
            ->  auth against the state before it  ->  soft-fail against the current state (remote)
            ->  persist on the room's persister (state snapshot, forward extremities, stream position)
            ->  notify (after commit, `persister.on_event_persisted`)

Spec: server-server API, "Checks performed on receipt of a PDU". A format or signature failure drops
the event (the caller sees the error); an auth failure in steps 3-4 *rejects* it (stored, never in
the timeline or state); a failure against the current state *soft-fails* it (stored and part of the
DAG, but not an extremity and not shown to clients). A local event that fails any check is an error
for the client and is not stored.

The state before an event is the state after its prev events: a stored group when they agree, the
resolution of their states (`state_res`) when they differ.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

from . import state_store, stores
from .auth_rules import AuthError, auth_types_for_event, check_auth_events_selection, check_auth_rules
from .event_format import check_pdu_format
from .event_signing import verify_event_signatures
from .events import Event, StateKey
from .hashing import check_content_hash
from .persister import EventContext, send_to_persister
from .redaction import prune_event_dict
from .room_versions import RoomVersion

CREATE_KEY: StateKey = ("m.room.create", "")
StateMap = dict[StateKey, str]


class MissingStateError(Exception):
    """None of the event's prev events has stored state, and the caller supplied none."""


# --- state before an event ---------------------------------------------------------------------------

class LazyEventMap(Mapping):
    """A read-only `event_id -> Event` map that loads from the database on first use, for state
    resolution (which needs the events of the state sets and of their auth chains)."""

    def __init__(self, preload: Sequence[str] = ()):
        self._events: dict[str, Event | None] = {}
        self._prefetch(preload)

    def _prefetch(self, ids) -> None:
        wanted = [i for i in ids if i not in self._events]
        if wanted:
            found = stores.get_events(wanted)
            for i in wanted:
                self._events[i] = found.get(i)

    def __getitem__(self, event_id: str) -> Event:
        if event_id not in self._events:
            self._prefetch([event_id])
        ev = self._events[event_id]
        if ev is None:
            raise KeyError(event_id)
        return ev

    def __contains__(self, event_id: object) -> bool:
        try:
            self[event_id]  # type: ignore[index]
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        return (k for k, v in list(self._events.items()) if v is not None)

    def __len__(self) -> int:
        return sum(1 for v in self._events.values() if v is not None)


def resolve_states(room_id: str, rv: RoomVersion, states: list[StateMap]) -> StateMap:
    """One state from several (the states after each prev event / extremity)."""
    distinct = [dict(s) for s in {tuple(sorted(s.items())): s for s in states}.values()]
    if len(distinct) == 1:
        return distinct[0]
    if not distinct:
        return {}
    from .state_res import resolve_state

    conflicted = {eid for s in distinct for k, eid in s.items() if any(o.get(k) != eid for o in distinct)}
    return dict(resolve_state(rv, distinct, LazyEventMap(sorted(conflicted))))


def compute_context(event: Event, *, state_before: StateMap | None = None, local: bool = False) -> EventContext:
    """Where `event` sits: the state before it, from its prev events' state groups.

    `state_before` is for events whose prev events we lack, some or all: the caller (federation)
    resolved it from the states of the prev events we have and the state another server gave, and it
    is used as it is."""
    if state_before is not None:
        return EventContext(state_before=dict(state_before), local=local)
    return context_after(event.room_id, event.room_version, event.prev_event_ids, local=local)


def context_after(room_id: str, rv: RoomVersion, prev_ids: list[str], *, state_before: StateMap | None = None,
                  local: bool = False) -> EventContext:
    """The context of an event whose prev events are `prev_ids`."""
    if not prev_ids:
        return EventContext(state_before=dict(state_before or {}), local=local)
    groups = state_store.groups_for_events(prev_ids)
    after_groups = sorted({g[0] for g in groups.values()})
    if not after_groups:
        if state_before is None:
            raise MissingStateError(f"no state for the prev events {prev_ids[:5]} in {room_id}")
        return EventContext(state_before=dict(state_before), local=local)
    if len(after_groups) == 1:
        g = after_groups[0]
        return EventContext(state_before=state_store.state_at(g), state_group_before=g, local=local)
    states = [state_store.state_at(g) for g in after_groups]
    resolved = resolve_states(room_id, rv, states)
    for g, s in zip(after_groups, states):
        if s == resolved:
            return EventContext(state_before=resolved, state_group_before=g, local=local)
    return EventContext(state_before=resolved, base_group=after_groups[0], local=local)


def _auth_map(event: Event, state: Mapping[StateKey, str]) -> dict[StateKey, Event]:
    """The events of `state` that authorise `event` (the create event always included: v12's auth
    rules need it although its auth_events do not list it)."""
    keys = set(auth_types_for_event(event)) | {CREATE_KEY}
    ids = {k: state[k] for k in keys if k in state}
    found = stores.get_events(ids.values())
    return {k: found[eid] for k, eid in ids.items() if eid in found}


def _create_event_id(event: Event) -> str | None:
    # v12: the room ID names the create event.
    if event.room_version.room_id_from_create_event and event.type != "m.room.create":
        return "$" + event.room_id[1:]
    return None


# --- the pipeline ------------------------------------------------------------------------------------

def process_local_event(event: Event, context: EventContext) -> int | None:
    """Check and persist an event this server built at the room's forward extremities (its auth
    events chosen from `context.state_before`). Raises the check's MatrixError: nothing is stored."""
    rv = event.room_version
    check_pdu_format(event.pdu, rv)
    if not (event.type == "m.room.create" and event.state_key == ""):
        # The auth events were selected from the state before, so one check covers steps 3 and 4.
        auth = _auth_map(event, context.state_before)
        listed = set(event.auth_event_ids)
        if {ev.event_id for k, ev in auth.items() if k != CREATE_KEY or not rv.room_id_from_create_event} != listed:
            auth = _check_against_auth_events(event)
        check_auth_rules(event, auth)
    else:
        check_auth_rules(event, {})
    context.local = True
    return send_to_persister(event.room_id, event, context)


def process_remote_event(event: Event, key_lookup: Callable, *, state_before: StateMap | None = None,
                         check_current_state: bool = True) -> int | None:
    """The receipt checks for a PDU from another server, then persist (maybe rejected or soft-failed).

    `check_current_state=False` skips step 5: for our own join to a room we are not in yet, whose
    current state here is nothing (the join handshake supplies `state_before`).

    Raises EventFormatError / SignatureError when the event must be dropped."""
    rv = event.room_version
    check_pdu_format(event.pdu, rv)
    verify_event_signatures(event.pdu, rv, key_lookup)
    if not check_content_hash(event.pdu):
        # A wrong content hash: keep the redacted event (server-server API, "Validating hashes").
        event = Event(prune_event_dict(rv, event.pdu), rv, internal=event.internal)

    # 3: against the event's own auth events.
    try:
        _check_against_auth_events(event, check_selection=True)
    except AuthError as e:
        event.internal.rejected_reason = e.reason

    # 4: against the state before the event (an outlier has no known state: its auth events decide).
    if event.internal.outlier:
        return send_to_persister(event.room_id, event, EventContext())
    context = compute_context(event, state_before=state_before)
    if not event.rejected:
        try:
            check_auth_rules(event, _auth_map(event, context.state_before))
        except AuthError as e:
            event.internal.rejected_reason = e.reason

    # 5: soft-fail against the current state.
    if not event.rejected and not event.internal.outlier and check_current_state:
        current = state_store.current_state(event.room_id, set(auth_types_for_event(event)) | {CREATE_KEY})
        try:
            check_auth_rules(event, _auth_map(event, current))
        except AuthError:
            event.internal.soft_failed = True

    return send_to_persister(event.room_id, event, context)


def _check_against_auth_events(event: Event, *, check_selection: bool = False) -> dict[StateKey, Event]:
    if event.type == "m.room.create" and event.state_key == "":
        check_auth_rules(event, {})
        return {}
    ids = list(event.auth_event_ids)
    create_id = _create_event_id(event)
    found = stores.get_events(ids + ([create_id] if create_id else []))
    missing = [i for i in ids if i not in found]
    if missing:
        raise AuthError(f"Unknown auth events: {', '.join(missing[:5])}")
    listed = [found[i] for i in ids]
    if check_selection:
        check_auth_events_selection(event, listed)
    auth = {ev.state_pair: ev for ev in listed if ev.state_pair is not None}
    if create_id and create_id in found:
        auth[CREATE_KEY] = found[create_id]
    check_auth_rules(event, auth)
    return auth
