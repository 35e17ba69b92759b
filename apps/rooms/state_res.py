"""State resolution: the state of a room before an event, from the states after its `prev_events`.

`resolve_state` is a pure function of its arguments (no database, no clock): it is given the state
sets to resolve and every event they reference together with those events' auth chains. The room
version picks the algorithm:

* `state_res == 1`  — the original algorithm of `rooms/v1.md` ("State resolution"), in
  `apps.rooms.state_res_v1`;
* `state_res == 2`  — state resolution v2 of `rooms/fragments/v2-state-res.md` (room versions 2-11);
* `state_res == 21` — v2.1 of `rooms/v12.md` ("State resolution"): the conflicted state subgraph joins
  the full conflicted set, and the first iterative auth checks start from an *empty* state map.

Choices where the spec text leaves room (matching Synapse, the reference implementation, so that
servers converge, unless said otherwise):

* Auth difference: the "full auth chain" of a state set *S_i* contains the events of *S_i* themselves as
  well as their auth chains. An event is then only in the auth difference if some state set neither
  holds it nor reaches it through auth events, so unconflicted state never enters through it.
* The reverse topological power ordering uses the auth-event edges *between* events of the set
  being sorted.
* Step 1's set X takes, for each power event, the events of its whole auth chain that are in the full
  conflicted set, as the spec words it (Synapse reaches them only through auth edges inside the full
  conflicted set; the two differ only when such an event lies beyond an event outside that set).
* An event's position in the mainline is looked for starting at the power-levels event of its
  `auth_events` (index j >= 1, as the spec defines); the event itself is never compared.

Rejected events (`Event.rejected`, v2-state-res.md "Rejected events"): a rejected event is never used
as an auth event ("Rejected auth events are deliberately excluded from use in the iterative auth
checks"), neither from an event's own `auth_events` nor from the state being built (the key then
falls back on the event's own, non-rejected, auth event). A rejected event of the full conflicted set
is also skipped by the iterative auth checks rather than authorised again: the spec's rejected-events
text would let it back in ("handled as usual"), but Synapse keeps the rejection (its
`_iterative_auth_checks`, synapse#13797) and re-admitting one could not be used anyway, since the auth
rules refuse rejected auth events (rule 2.3). Keeping Synapse's behaviour keeps the servers of a room
converging. Rejection here means failing the checks on receipt; soft-failed events are not rejected.
"""
from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence

from .events import Event, StateKey
from .room_versions import RoomVersion

CREATE_KEY: StateKey = ("m.room.create", "")
POWER_KEY: StateKey = ("m.room.power_levels", "")
JOIN_RULES_KEY: StateKey = ("m.room.join_rules", "")

StateMap = Mapping[StateKey, str]


def resolve_state(
    room_version: RoomVersion,
    state_sets: Sequence[StateMap],
    event_map: Mapping[str, Event],
    auth_chain_ids: Callable[[str], set[str]] | None = None,
) -> dict[StateKey, str]:
    """Resolve `state_sets` (maps of (event type, state_key) -> event ID) into one state map.

    `event_map` holds every event the state sets name and every event of their auth chains.
    `auth_chain_ids(event_id)` returns the auth chain of an event (its auth events, recursively, not
    the event itself); by default it is computed by walking `auth_event_ids` through `event_map`.
    The result does not depend on the order of `state_sets`.
    """
    sets = [dict(s) for s in state_sets]
    if not sets:
        return {}
    if len(sets) == 1:
        return sets[0]
    if room_version.state_res == 1:
        from .state_res_v1 import resolve_v1

        return resolve_v1(room_version, sets, event_map)
    if room_version.state_res in (2, 21):
        chains = AuthChains(event_map, auth_chain_ids)
        return _resolve_v2(room_version, sets, event_map, chains, v21=room_version.state_res == 21)
    raise ValueError(f"unknown state resolution algorithm {room_version.state_res!r}")


# --- shared helpers ---------------------------------------------------------------------------------


class AuthChains:
    """Auth chains: the events reachable through `auth_events`, the starting events excluded.

    Uses the caller's `auth_chain_ids(event_id)` when given (e.g. a database chain index), else walks
    `event_map` breadth-first; a union over many starting events is one walk, so the cost stays linear
    in the size of the chains."""

    def __init__(self, event_map: Mapping[str, Event], auth_chain_ids: Callable[[str], set[str]] | None = None):
        self.event_map = event_map
        self._external = auth_chain_ids

    def __call__(self, event_id: str) -> set[str]:
        return self.of_many((event_id,))

    def of_many(self, event_ids: Iterable[str]) -> set[str]:
        if self._external is not None:
            acc: set[str] = set()
            for eid in event_ids:
                acc |= set(self._external(eid))
            return acc
        seen: set[str] = set()
        todo = list(event_ids)
        while todo:
            ev = self.event_map.get(todo.pop())
            if ev is None:
                continue
            for aid in ev.auth_event_ids:
                if aid not in seen:
                    seen.add(aid)
                    todo.append(aid)
        return seen


def auth_map_for(event: Event, state: StateMap, event_map: Mapping[str, Event]) -> dict[StateKey, Event]:
    """The auth events to check `event` against: for each (type, state_key) the auth rules need, the
    event of `state`, else the (not rejected) event of that key among the event's own `auth_events`
    (v2-state-res.md, "Iterative auth checks"). In v12 the create event is never an auth event; it is
    the event the room ID names (v12.md, auth rule 2), so it is added from there."""
    from .auth_rules import auth_types_for_event

    needed = set(auth_types_for_event(event))
    own: dict[StateKey, Event] = {}
    for aid in event.auth_event_ids:
        aev = event_map.get(aid)
        if aev is None or aev.rejected or not aev.is_state():
            continue
        own[aev.state_pair] = aev
    rv = event.room_version
    if rv.room_id_from_create_event:
        needed.add(CREATE_KEY)
    result: dict[StateKey, Event] = {}
    for key in needed:
        sid = state.get(key)
        sev = event_map.get(sid) if sid is not None else None
        if sev is not None and not sev.rejected:
            result[key] = sev
        elif key in own:
            result[key] = own[key]
    if rv.room_id_from_create_event and CREATE_KEY not in result:
        create = room_create_event(event, event_map)
        if create is not None:
            result[CREATE_KEY] = create
    return result


def room_create_event(event: Event, event_map: Mapping[str, Event]) -> Event | None:
    """v12: the create event is the one whose event ID is the room ID with sigil `$` (v12.md)."""
    if event.type == CREATE_KEY[0] and event.state_key == "":
        return event
    try:
        room_id = event.room_id
    except KeyError:
        return None
    create = event_map.get("$" + room_id[1:])
    if create is not None and create.type == CREATE_KEY[0] and create.state_key == "":
        return create
    return None


def is_allowed(event: Event, auth_events: Mapping[StateKey, Event]) -> bool:
    from .auth_rules import AuthError, check_auth_rules

    try:
        check_auth_rules(event, auth_events)
    except AuthError:
        return False
    return True


# --- state resolution v2 and v2.1 -------------------------------------------------------------------


def separate_v2(state_sets: Sequence[StateMap]) -> tuple[dict[StateKey, str], dict[StateKey, set[str]]]:
    """The unconflicted state map and the conflicted state set, by key (v2-state-res.md, Definitions):
    (K, V) is unconflicted only if K is in *every* state map with the same V."""
    unconflicted: dict[StateKey, str] = {}
    conflicted: dict[StateKey, set[str]] = {}
    for key in set(itertools.chain.from_iterable(state_sets)):
        values = {s.get(key) for s in state_sets}
        if len(values) == 1 and None not in values:
            unconflicted[key] = values.pop()  # type: ignore[assignment]
        else:
            values.discard(None)
            conflicted[key] = values  # type: ignore[assignment]
    return unconflicted, conflicted


def auth_difference(state_sets: Sequence[StateMap], chains: AuthChains) -> set[str]:
    """∪ C_i − ∩ C_i, C_i the full auth chain of S_i (its events and their auth chains; see the module
    docstring for why the events themselves count)."""
    full = [set(s.values()) | chains.of_many(s.values()) for s in state_sets]
    return set.union(*full) - set.intersection(*full)


def conflicted_subgraph(conflicted_ids: set[str], chains: AuthChains, event_map: Mapping[str, Event]) -> set[str]:
    """v12.md, "Conflicted state subgraph": the events on some auth-event path from one conflicted
    event to another, endpoints included. An event is on such a path iff it is reachable from a
    conflicted event (it is in that event's auth chain, or is that event) and it reaches a conflicted
    event (one is in its own auth chain, or it is one)."""
    below = chains.of_many(conflicted_ids)  # reachable from some conflicted event, excluding them
    candidates = below | conflicted_ids
    # reaches[x]: some conflicted event is reachable from x by one or more auth edges. Computed
    # parents-first over the candidates; a path from a candidate to a conflicted event only passes
    # through candidates (everything on it is below the starting conflicted event).
    reaches: dict[str, bool] = {}
    for start in candidates:
        stack: list[tuple[str, bool]] = [(start, False)]
        while stack:
            eid, expanded = stack.pop()
            if eid in reaches:
                continue
            ev = event_map.get(eid)
            parents = [a for a in (ev.auth_event_ids if ev is not None else []) if a in candidates]
            if expanded:
                reaches[eid] = any(a in conflicted_ids or reaches.get(a, False) for a in parents)
                continue
            stack.append((eid, True))
            stack.extend((a, False) for a in parents if a not in reaches)
    subgraph = {eid for eid in below if reaches.get(eid)}
    # Endpoints: conflicted events at the start (they reach another) or end (reached) of a path.
    subgraph |= {eid for eid in conflicted_ids if eid in below or reaches.get(eid)}
    return subgraph


def is_power_event(event: Event) -> bool:
    """v2-state-res.md, "Power events"."""
    if not event.is_state():
        return False
    if event.type in ("m.room.power_levels", "m.room.join_rules"):
        return True
    if event.type == "m.room.member" and event.membership in ("leave", "ban"):
        return event.sender != event.state_key
    return False


def sender_power_level(event: Event, event_map: Mapping[str, Event]) -> int | float:
    """The sender's power level "when looking at their respective auth_events" (reverse topological
    power ordering). In v12 the create event comes from the room ID, as everywhere in that version."""
    from .power_levels import get_user_power_level

    auth: dict[StateKey, Event] = {}
    for aid in event.auth_event_ids:
        aev = event_map.get(aid)
        if aev is not None and aev.is_state():
            auth.setdefault(aev.state_pair, aev)
    if event.room_version.room_id_from_create_event and CREATE_KEY not in auth:
        create = room_create_event(event, event_map)
        if create is not None:
            auth[CREATE_KEY] = create
    return get_user_power_level(event.sender, auth, event.room_version)


def reverse_topological_power_sort(
    event_ids: Iterable[str],
    event_map: Mapping[str, Event],
    power_level: Callable[[Event], int | float] | None = None,
) -> list[str]:
    """Kahn's algorithm over the auth DAG restricted to `event_ids`, earliest first, choosing at each
    step the smallest candidate by (greater sender power level, smaller origin_server_ts, smaller
    event_id) (v2-state-res.md, "Reverse topological power ordering")."""
    if power_level is None:
        power_level = lambda ev: sender_power_level(ev, event_map)  # noqa: E731
    nodes = set(event_ids)
    # Out-edges to auth events inside the set; an event is a candidate once all of them are emitted.
    pending: dict[str, set[str]] = {}
    children: dict[str, set[str]] = {eid: set() for eid in nodes}
    for eid in nodes:
        parents = {aid for aid in event_map[eid].auth_event_ids if aid in nodes and aid != eid}
        pending[eid] = parents
        for aid in parents:
            children[aid].add(eid)

    def key(eid: str) -> tuple:
        ev = event_map[eid]
        return (-power_level(ev), ev.origin_server_ts, eid)

    heap = [(key(eid), eid) for eid, parents in pending.items() if not parents]
    heapq.heapify(heap)
    out: list[str] = []
    while heap:
        _, eid = heapq.heappop(heap)
        out.append(eid)
        for child in children[eid]:
            pending[child].discard(eid)
            if not pending[child]:
                heapq.heappush(heap, (key(child), child))
    if len(out) != len(nodes):  # a cycle in auth_events: impossible for valid events
        raise ValueError("auth events form a cycle")
    return out


def _power_levels_auth_event(event: Event, event_map: Mapping[str, Event]) -> str | None:
    for aid in event.auth_event_ids:
        aev = event_map.get(aid)
        if aev is not None and aev.type == POWER_KEY[0] and aev.state_key == "":
            return aid
    return None


def mainline_sort(event_ids: Iterable[str], power_levels_id: str | None, event_map: Mapping[str, Event]) -> list[str]:
    """Order `event_ids` by the mainline ordering based on `power_levels_id` (v2-state-res.md,
    "Mainline ordering"): greater mainline position first, then origin_server_ts, then event_id."""
    mainline: dict[str, int] = {}
    pl = power_levels_id
    while pl is not None and pl in event_map and pl not in mainline:
        mainline[pl] = len(mainline)
        pl = _power_levels_auth_event(event_map[pl], event_map)

    memo: dict[str, float] = {}

    def position(ev: Event) -> float:
        # Walk e_1, e_2, ... (e_0 itself excluded) until one is on the mainline; ∞ if none is.
        walked: list[str] = []
        cur = _power_levels_auth_event(ev, event_map)
        result: float = math.inf
        while cur is not None:
            if cur in memo:
                result = memo[cur]
                break
            if cur in mainline:
                result = mainline[cur]
                break
            if cur in walked:  # defensive: a cycle
                break
            walked.append(cur)
            cur = _power_levels_auth_event(event_map[cur], event_map)
        for w in walked:
            memo[w] = result
        return result

    def key(eid: str) -> tuple:
        ev = event_map[eid]
        return (-position(ev), ev.origin_server_ts, eid)

    return sorted(event_ids, key=key)


def iterative_auth_checks(event_ids: Iterable[str], base_state: StateMap,
                          event_map: Mapping[str, Event]) -> dict[StateKey, str]:
    """v2-state-res.md, "Iterative auth checks": apply each event, in order, that the auth rules allow
    against the state built so far (falling back on the event's own non-rejected auth events for keys
    that state lacks); ignore the others."""
    state = dict(base_state)
    for eid in event_ids:
        ev = event_map[eid]
        if not ev.is_state() or ev.rejected:  # see the module docstring on rejected events
            continue
        if is_allowed(ev, auth_map_for(ev, state, event_map)):
            state[ev.state_pair] = eid  # type: ignore[index]
    return state


def full_conflicted_set(
    state_sets: Sequence[StateMap],
    conflicted: Mapping[StateKey, set[str]],
    chains: AuthChains,
    event_map: Mapping[str, Event],
    *,
    v21: bool,
) -> set[str]:
    conflicted_ids = set(itertools.chain.from_iterable(conflicted.values()))
    fcs = conflicted_ids | auth_difference(state_sets, chains)
    if v21:
        # v12.md: "the union of the conflicted state set, the conflicted state subgraph, and the
        # auth difference".
        fcs |= conflicted_subgraph(conflicted_ids, chains, event_map)
    # Everything must be known; an event missing from event_map cannot be ordered or authorised.
    return {eid for eid in fcs if eid in event_map}


def _resolve_v2(
    room_version: RoomVersion,
    state_sets: Sequence[StateMap],
    event_map: Mapping[str, Event],
    chains: AuthChains,
    *,
    v21: bool,
) -> dict[StateKey, str]:
    unconflicted, conflicted = separate_v2(state_sets)
    if not conflicted:
        # Identical state sets: their full auth chains are identical too, so nothing can differ.
        return unconflicted

    fcs = full_conflicted_set(state_sets, conflicted, chains, event_map, v21=v21)

    # Step 1: the power events of the full conflicted set, with the events of their auth chains
    # that are also in the full conflicted set, in reverse topological power ordering.
    power = {eid for eid in fcs if is_power_event(event_map[eid])}
    x = power | (chains.of_many(power) & fcs)
    sorted_power = reverse_topological_power_sort(x, event_map)

    # Step 2: iterative auth checks from the unconflicted state map (v2) or an empty map (v2.1,
    # v12.md "Algorithm" step 2).
    base: dict[StateKey, str] = {} if v21 else dict(unconflicted)
    partial = iterative_auth_checks(sorted_power, base, event_map)

    # Step 3: the remaining events in mainline order of the partially resolved power levels.
    rest = mainline_sort((eid for eid in fcs if eid not in x), partial.get(POWER_KEY), event_map)

    # Step 4.
    resolved = iterative_auth_checks(rest, partial, event_map)

    # Step 5: the unconflicted state map always wins.
    resolved.update(unconflicted)
    return resolved
