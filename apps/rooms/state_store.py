"""State groups: "the state at event X" and "the current state of room R" without replaying the room.

A state group is an immutable map `(type, state_key) -> event_id`. It is stored either as a full
snapshot or as a delta against a previous group (`models.StateGroup` explains the rows). Deltas keep
storage small — a state event adds one row — while `MAX_DELTA_CHAIN` bounds the work of a read: when
a chain would grow past it, the new group is written as a full snapshot instead. `state_at(group)`
is one recursive query over at most `MAX_DELTA_CHAIN + 1` groups.

Which group belongs to which event (`EventToStateGroup`): `state_group` is the state AFTER the event,
`state_group_before` the state BEFORE it; for non-state and rejected events the two are equal.

Groups never change once committed, so reads are cached per process; a group enters the cache only
after its transaction commits (an id from a rolled-back transaction may be reused on SQLite).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Iterable, Mapping

from django.db import connection, transaction

from .events import StateKey
from .models import CurrentState, EventToStateGroup, StateGroup, StateGroupState

# A group is stored as a delta while the chain to its snapshot has at most this many deltas.
MAX_DELTA_CHAIN = 100
_CACHE_SIZE = 2000

StateMap = dict[StateKey, str]


class _GroupCache:
    """group id -> (delta_depth, state); LRU, thread-safe."""

    def __init__(self, size: int):
        self.size = size
        self._data: OrderedDict[int, tuple[int, StateMap]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, group: int) -> tuple[int, StateMap] | None:
        with self._lock:
            hit = self._data.get(group)
            if hit is not None:
                self._data.move_to_end(group)
            return hit

    def put(self, group: int, depth: int, state: StateMap) -> None:
        with self._lock:
            self._data[group] = (depth, state)
            self._data.move_to_end(group)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


_cache = _GroupCache(_CACHE_SIZE)


def _remember_on_commit(group: int, depth: int, state: StateMap) -> None:
    transaction.on_commit(lambda: _cache.put(group, depth, state))


# --- writing ---------------------------------------------------------------------------------------

def store_state_group(room_id: str, state: Mapping[StateKey, str], *, prev_group: int | None = None,
                      event_id: str | None = None) -> int:
    """Store `state` (the full map) as a new group; a delta against `prev_group` when that is cheap.

    `state` is the complete state of the new group; the caller usually has it already (the state
    before an event plus the event itself), so no read of `prev_group` is needed when it is cached."""
    state = dict(state)
    depth = 0
    rows: list[tuple[str, str, str | None]]
    if prev_group is not None:
        prev_depth, prev_state = _load(prev_group)
        if prev_depth + 1 <= MAX_DELTA_CHAIN:
            depth = prev_depth + 1
            rows = [(t, sk, eid) for (t, sk), eid in state.items() if prev_state.get((t, sk)) != eid]
            rows += [(t, sk, None) for (t, sk) in prev_state.keys() - state.keys()]
        else:
            prev_group = None
    if depth == 0:
        prev_group = None
        rows = [(t, sk, eid) for (t, sk), eid in state.items()]
    group = StateGroup.objects.create(room_id=room_id, prev_group_id=prev_group, delta_depth=depth,
                                      event_id=event_id)
    if rows:
        StateGroupState.objects.bulk_create(
            [StateGroupState(state_group_id=group.id, type=t, state_key=sk, event_id=eid) for t, sk, eid in rows])
    _remember_on_commit(group.id, depth, state)
    return group.id


def store_delta_group(room_id: str, prev_group: int | None, delta: Mapping[StateKey, str], *,
                      event_id: str | None = None) -> int:
    """A new group: `prev_group`'s state with `delta` applied (the state after a state event)."""
    base = _load(prev_group)[1] if prev_group is not None else {}
    return store_state_group(room_id, {**base, **delta}, prev_group=prev_group, event_id=event_id)


# --- reading ---------------------------------------------------------------------------------------

def state_at(group: int) -> StateMap:
    """The full state of a group (a copy the caller may change)."""
    return dict(_load(group)[1])


def _load(group: int) -> tuple[int, StateMap]:
    hit = _cache.get(group)
    if hit is not None:
        return hit
    depth, state = _read_group(group)
    if not connection.in_atomic_block:
        _cache.put(group, depth, state)
    else:
        _remember_on_commit(group, depth, state)
    return depth, state


def _read_group(group: int) -> tuple[int, StateMap]:
    # One query: walk the delta chain down to its snapshot, then fold the rows oldest first.
    sql = f"""
        WITH RECURSIVE chain(id, prev, n) AS (
            SELECT id, prev_group_id, 0 FROM {StateGroup._meta.db_table} WHERE id = %s
            UNION ALL
            SELECT g.id, g.prev_group_id, c.n + 1 FROM {StateGroup._meta.db_table} g
              JOIN chain c ON g.id = c.prev
             WHERE c.n < %s
        )
        SELECT c.n, s.type, s.state_key, s.event_id
          FROM chain c LEFT JOIN {StateGroupState._meta.db_table} s ON s.state_group_id = c.id
         ORDER BY c.n DESC
    """
    with connection.cursor() as cur:
        cur.execute(sql, [group, MAX_DELTA_CHAIN + 1])
        rows = cur.fetchall()
    if not rows:
        raise KeyError(f"unknown state group {group}")
    state: StateMap = {}
    depth = 0
    for n, t, sk, eid in rows:
        depth = max(depth, n)
        if t is None:
            continue  # a group without rows
        if eid is None:
            state.pop((t, sk), None)
        else:
            state[(t, sk)] = eid
    return depth, state


def groups_for_events(event_ids: Iterable[str]) -> dict[str, tuple[int, int | None]]:
    """event_id -> (group after, group before) for the events that have state (not outliers)."""
    return {r[0]: (r[1], r[2]) for r in EventToStateGroup.objects.filter(event_id__in=list(event_ids))
            .values_list("event_id", "state_group_id", "state_group_before_id")}


def state_after_event(event_id: str) -> StateMap | None:
    g = groups_for_events([event_id]).get(event_id)
    return state_at(g[0]) if g else None


def state_before_event(event_id: str) -> StateMap | None:
    """The state before `event_id`, or None when the event has no state (an outlier, or unknown)."""
    g = groups_for_events([event_id]).get(event_id)
    if g is None:
        return None
    return state_at(g[1]) if g[1] is not None else {}


def current_state(room_id: str, keys: Iterable[StateKey] | None = None, *,
                  types: Iterable[str] | None = None) -> StateMap:
    """The room's current state ids, all of it or only `keys` / `types`."""
    qs = CurrentState.objects.filter(room_id=room_id)
    if types is not None:
        qs = qs.filter(type__in=list(types))
    rows = qs.values_list("type", "state_key", "event_id")
    if keys is not None:
        wanted = set(keys)
        if not wanted:
            return {}
        return {(t, sk): eid for t, sk, eid in rows.filter(type__in={t for t, _ in wanted}) if (t, sk) in wanted}
    return {(t, sk): eid for t, sk, eid in rows}


def clear_cache() -> None:
    _cache.clear()
