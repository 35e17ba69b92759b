"""The original state resolution algorithm (room version 1; rooms/v1.md, "State resolution").

Known to reset state (the spec's own warning); kept for v1 rooms only. Where the spec's prose is
loose this follows Synapse's `state/v1.py`, which every v1 room on the network has been resolved by:

* a key missing from some state sets is not a conflict ("A conflict occurs between states where those
  states have different event_ids for the same (event_type, state_key)"): R starts as the union of
  the states minus the conflicting keys;
* the conflicts of one pass (join rules; memberships; other events) are each resolved against R as
  it stood at the start of that pass, then R takes all of their results at once — so the result does
  not depend on the order the keys are visited in;
* if no event of an "other" conflict passes authentication in R, the event with the lowest depth
  (the last one tried) is taken.
"""
from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping, Sequence

from .events import Event, StateKey
from .room_versions import RoomVersion

POWER_KEY: StateKey = ("m.room.power_levels", "")


def separate_v1(state_sets: Sequence[Mapping[StateKey, str]]) -> tuple[dict[StateKey, str], dict[StateKey, set[str]]]:
    unconflicted: dict[StateKey, str] = {}
    conflicted: dict[StateKey, set[str]] = {}
    for key in set(itertools.chain.from_iterable(state_sets)):
        values = {s[key] for s in state_sets if key in s}
        if len(values) == 1:
            unconflicted[key] = values.pop()
        else:
            conflicted[key] = values
    return unconflicted, conflicted


def _sha1(event_id: str) -> str:
    return hashlib.sha1(event_id.encode("utf-8")).hexdigest()


def _ascending(events: list[Event]) -> list[Event]:
    """Ascending depth, then descending sha1(event_id) (the auth-event passes' order)."""
    return sorted(events, key=lambda e: (e.depth, _neg_hex(_sha1(e.event_id))))


def _neg_hex(h: str) -> str:
    # Descending hex digest inside an ascending sort: complement each hex digit.
    return h.translate(str.maketrans("0123456789abcdef", "fedcba9876543210"))


def _descending(events: list[Event]) -> list[Event]:
    """Highest depth first, then lowest sha1(event_id) (the order of the last pass)."""
    return sorted(events, key=lambda e: (-e.depth, _sha1(e.event_id)))


def _allowed_in(event: Event, state: Mapping[StateKey, Event]) -> bool:
    from .auth_rules import AuthError, auth_types_for_event, check_auth_rules

    auth = {k: state[k] for k in auth_types_for_event(event) if k in state}
    try:
        check_auth_rules(event, auth)
    except AuthError:
        return False
    return True


def _resolve_auth_conflict(events: list[Event], state: Mapping[StateKey, Event]) -> Event:
    """rooms/v1.md: sort by ascending depth then descending sha1(event_id); take the first; then each
    next event while it is allowed in R updated with the one before it; stop at the first refused."""
    ordered = _ascending(events)
    r = dict(state)
    chosen = ordered[0]
    for event in ordered[1:]:
        r[chosen.state_pair] = chosen  # type: ignore[index]
        if not _allowed_in(event, r):
            break
        chosen = event
    return chosen


def _resolve_normal_conflict(events: list[Event], state: Mapping[StateKey, Event]) -> Event:
    """rooms/v1.md: the event with the highest depth and lowest sha1(event_id) that passes
    authentication in R."""
    ordered = _descending(events)
    for event in ordered:
        if _allowed_in(event, state):
            return event
    return ordered[-1]


def resolve_v1(room_version: RoomVersion, state_sets: Sequence[Mapping[StateKey, str]],
               event_map: Mapping[str, Event]) -> dict[StateKey, str]:
    unconflicted, conflicted_ids = separate_v1(state_sets)
    result = dict(unconflicted)
    conflicted: dict[StateKey, list[Event]] = {}
    for key, ids in conflicted_ids.items():
        events = [event_map[i] for i in sorted(ids) if i in event_map]
        if len(events) > 1:
            conflicted[key] = events
        elif events:  # the others are unknown: nothing to resolve against
            result[key] = events[0].event_id
    if not conflicted:
        return result

    # R as events, for the auth checks.
    r: dict[StateKey, Event] = {k: event_map[v] for k, v in result.items() if v in event_map}
    resolved: dict[StateKey, Event] = {}

    # Power levels first, then join rules, then memberships.
    for wanted in ("m.room.power_levels", "m.room.join_rules", "m.room.member"):
        batch = {key: _resolve_auth_conflict(events, r) for key, events in conflicted.items() if key[0] == wanted}
        resolved.update(batch)
        r.update(batch)
    # "No other events affect the authorisation rules": the rest against the R of the auth passes.
    resolved.update({key: _resolve_normal_conflict(events, r) for key, events in conflicted.items()
                     if key not in resolved})

    result.update({key: ev.event_id for key, ev in resolved.items()})
    return result
