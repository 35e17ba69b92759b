"""State resolution v2 (room versions 2-11) and v2.1 (room version 12), from
rooms/fragments/v2-state-res.md and rooms/v12.md: the classic scenarios (ban vs. power levels, join rule
evasion, off-topic power levels, topic resets, mainline ordering), the building blocks one by one, the
v2.1 differences, and property tests (the result does not depend on the order of the state sets or of
the maps; v2 keeps the unconflicted state).

Events use explicit event IDs: v2 rooms carry them in the PDU; for v12 a small `Event` subclass reads
`event_id` from the PDU too, so the tests do not depend on reference hashes. The v12 room ID is the
create event's ID with `!`, as v12.md has it."""
from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.rooms import state_res
from apps.rooms.auth_rules import AuthError, auth_types_for_event, check_auth_rules
from apps.rooms.events import Event, InternalMetadata
from apps.rooms.room_versions import V1, V2, V12, RoomVersion
from apps.rooms.state_res import (
    AuthChains, auth_difference, conflicted_subgraph, is_power_event, mainline_sort, resolve_state,
    reverse_topological_power_sort, separate_v2,
)

ALICE = "@alice:example.com"
BOB = "@bob:example.com"
CHARLIE = "@charlie:example.com"
EVELYN = "@evelyn:example.com"
ZARA = "@zara:example.com"
ROOM_ID = "!CREATE:example.com"
JOIN = {"membership": "join"}

TOPIC = ("m.room.topic", "")
PL = ("m.room.power_levels", "")
JR = ("m.room.join_rules", "")


class ExplicitIdEvent(Event):
    """An event whose ID is the PDU's `event_id` in every room version (tests only)."""

    @property
    def event_id(self) -> str:  # type: ignore[override]
        return self.pdu["event_id"]


def eid(node: str) -> str:
    return f"${node}:example.com"


def make_event(rv: RoomVersion, node: str, sender: str, type_: str, state_key: str | None, content: dict,
               auth: list[str], prev: list[str], *, depth: int = 1, ts: int = 0,
               rejected: bool = False) -> Event:
    pdu = {
        "event_id": eid(node), "room_id": ROOM_ID, "sender": sender, "type": type_, "content": content,
        "origin_server_ts": ts, "depth": depth,
    }
    if rv.event_format == 1:
        pdu["auth_events"] = [[a, {}] for a in auth]
        pdu["prev_events"] = [[p, {}] for p in prev]
    else:
        pdu["auth_events"] = list(auth)
        pdu["prev_events"] = list(prev)
    if state_key is not None:
        pdu["state_key"] = state_key
    if type_ == "m.room.create" and rv.room_id_from_create_event:
        del pdu["room_id"]  # v12: the create event has no room_id; the room is named after it
    internal = InternalMetadata(rejected_reason="auth" if rejected else None)
    return ExplicitIdEvent(pdu, rv, internal=internal)


# --- a room built from a DAG of events (the way Synapse's state tests describe scenarios) -----------------

@dataclass
class Node:
    id: str
    sender: str
    type: str
    state_key: str | None
    content: dict


def _pl_content(rv: RoomVersion, users: dict[str, int], **extra) -> dict:
    # v12: the creator (Alice) has infinite power and may not be listed (v12.md, rule 10.4).
    if rv.privileged_creators:
        users = {u: lvl for u, lvl in users.items() if u != ALICE}
    return {"users": users, **extra}


def initial_nodes(rv: RoomVersion) -> list[Node]:
    create_content = {"room_version": rv.identifier}
    if not rv.implicit_room_creator:
        create_content["creator"] = ALICE
    return [
        Node("CREATE", ALICE, "m.room.create", "", create_content),
        Node("IMA", ALICE, "m.room.member", ALICE, JOIN),
        Node("IPOWER", ALICE, "m.room.power_levels", "", _pl_content(rv, {ALICE: 100})),
        Node("IJR", ALICE, "m.room.join_rules", "", {"join_rule": "public"}),
        Node("IMB", BOB, "m.room.member", BOB, JOIN),
        Node("IMC", CHARLIE, "m.room.member", CHARLIE, JOIN),
        Node("IMZ", ZARA, "m.room.member", ZARA, JOIN),
        Node("START", ZARA, "m.room.message", None, {}),
        Node("END", ZARA, "m.room.message", None, {}),
    ]


INITIAL_EDGES = ["START", "IMZ", "IMC", "IMB", "IJR", "IPOWER", "IMA", "CREATE"]


@dataclass
class Room:
    rv: RoomVersion
    events: dict[str, Event] = field(default_factory=dict)       # event ID -> event
    state_after: dict[str, dict] = field(default_factory=dict)    # node -> state map after it
    ts: int = 0

    def add(self, node: Node, prev_nodes: list[str]) -> Event:
        """Add `node` after `prev_nodes`: its state before is the resolution of theirs, its auth events
        the auth events selection from that state; rejected (and kept out of state) if not allowed."""
        prev_states = [self.state_after[p] for p in prev_nodes]
        if not prev_states:
            before: dict = {}
        elif len(prev_states) == 1:
            before = dict(prev_states[0])
        else:
            before = resolve_state(self.rv, prev_states, self.events)
        probe = make_event(self.rv, node.id, node.sender, node.type, node.state_key, node.content, [], [])
        auth_ids = [before[k] for k in auth_types_for_event(probe) if k in before]
        depth = 1 + max((self.events[eid(p)].depth for p in prev_nodes), default=0)
        self.ts += 1
        ev = make_event(self.rv, node.id, node.sender, node.type, node.state_key, node.content, auth_ids,
                        [eid(p) for p in prev_nodes], depth=depth, ts=self.ts)
        auth_map = {self.events[a].state_pair: self.events[a] for a in auth_ids}
        if self.rv.room_id_from_create_event and node.type != "m.room.create":
            auth_map[("m.room.create", "")] = self.events[eid("CREATE")]
        try:
            check_auth_rules(ev, auth_map)
            rejected = False
        except AuthError:
            rejected = True
        if rejected:
            ev.internal.rejected_reason = "auth"
        after = dict(before)
        if ev.is_state() and not rejected:
            after[ev.state_pair] = ev.event_id
        self.events[ev.event_id] = ev
        self.state_after[node.id] = after
        return ev


def build_room(rv: RoomVersion, nodes: list[Node], edges: list[list[str]]) -> Room:
    """`edges` are chains from later to earlier, e.g. ["END", "B", "A"] is END -> B -> A."""
    all_nodes = {n.id: n for n in itertools.chain(initial_nodes(rv), nodes)}
    prevs: dict[str, set[str]] = {n: set() for n in all_nodes}
    for chain in [INITIAL_EDGES, *edges]:
        for a, b in itertools.pairwise(chain):
            prevs[a].add(b)
    room = Room(rv)
    done: set[str] = set()
    while len(done) < len(all_nodes):
        ready = sorted(n for n in all_nodes if n not in done and prevs[n] <= done)
        node = ready[0]
        room.add(all_nodes[node], sorted(prevs[node]))
        done.add(node)
    return room


def check_scenario(rv: RoomVersion, nodes: list[Node], edges: list[list[str]], expected: list[str]) -> Room:
    room = build_room(rv, nodes, edges)
    expected_state = {}
    for node in expected:
        ev = room.events[eid(node)]
        expected_state[ev.state_pair] = ev.event_id
    start, end = room.state_after["START"], room.state_after["END"]
    changed = {k: v for k, v in end.items() if k in expected_state or start.get(k) != v}
    assert changed == expected_state
    return room


def member(node: str, sender: str, target: str, membership: str) -> Node:
    return Node(node, sender, "m.room.member", target, {"membership": membership})


def topic(node: str, sender: str) -> Node:
    return Node(node, sender, "m.room.topic", "", {"topic": node})


def power(node: str, sender: str, rv: RoomVersion, users: dict[str, int], **extra) -> Node:
    return Node(node, sender, "m.room.power_levels", "", _pl_content(rv, users, **extra))


V2_VERSIONS = [pytest.param(V2, id="v2"), pytest.param(V12, id="v2.1")]


# --- the classic scenarios ---------------------------------------------------------------------------------

@pytest.mark.parametrize("rv", V2_VERSIONS)
def test_ban_vs_power_levels(rv):
    """Alice bans Bob while Bob (power 50) sends a power-levels event on another branch: the ban wins
    and Bob's power-levels event, no longer authorised once he is banned, is dropped."""
    nodes = [
        power("PA", ALICE, rv, {ALICE: 100, BOB: 50}),
        member("MA", ALICE, ALICE, "join"),
        member("MB", ALICE, BOB, "ban"),
        power("PB", BOB, rv, {ALICE: 100, BOB: 50}),
    ]
    edges = [["END", "MB", "MA", "PA", "START"], ["END", "PB", "PA"]]
    check_scenario(rv, nodes, edges, ["PA", "MA", "MB"])


@pytest.mark.parametrize("rv", V2_VERSIONS)
def test_join_rule_evasion(rv):
    """Evelyn joins a public room on a branch where Alice made it private: the join rules change comes
    first (a power event) and the join no longer passes."""
    nodes = [
        Node("JR", ALICE, "m.room.join_rules", "", {"join_rule": "private"}),
        member("ME", EVELYN, EVELYN, "join"),
    ]
    edges = [["END", "JR", "START"], ["END", "ME", "START"]]
    check_scenario(rv, nodes, edges, ["JR"])


@pytest.mark.parametrize("rv", V2_VERSIONS)
def test_offtopic_power_levels(rv):
    """A chain of power-level changes PA -> PB -> PC on one branch, PA alone on the other: PC, the tip of
    the authorised chain, wins."""
    nodes = [
        power("PA", ALICE, rv, {ALICE: 100, BOB: 50}),
        power("PB", BOB, rv, {ALICE: 100, BOB: 50, CHARLIE: 50}),
        power("PC", CHARLIE, rv, {ALICE: 100, BOB: 50, CHARLIE: 0}),
    ]
    edges = [["END", "PC", "PB", "PA", "START"], ["END", "PA"]]
    check_scenario(rv, nodes, edges, ["PC"])


@pytest.mark.parametrize("rv", V2_VERSIONS)
def test_topic_basic(rv):
    nodes = [
        topic("T1", ALICE),
        power("PA1", ALICE, rv, {ALICE: 100, BOB: 50}),
        topic("T2", ALICE),
        power("PA2", ALICE, rv, {ALICE: 100, BOB: 0}),
        power("PB", BOB, rv, {ALICE: 100, BOB: 50}),
        topic("T3", BOB),
    ]
    edges = [["END", "PA2", "T2", "PA1", "T1", "START"], ["END", "T3", "PB", "PA1"]]
    check_scenario(rv, nodes, edges, ["PA2", "T2"])


@pytest.mark.parametrize("rv", V2_VERSIONS)
def test_topic_reset(rv):
    """Bob's topic T2 loses to Alice's older T1 once Alice's ban of Bob (a power event) is applied."""
    nodes = [
        topic("T1", ALICE),
        power("PA", ALICE, rv, {ALICE: 100, BOB: 50}),
        topic("T2", BOB),
        member("MB", ALICE, BOB, "ban"),
    ]
    edges = [["END", "MB", "T2", "PA", "T1", "START"], ["END", "T1"]]
    check_scenario(rv, nodes, edges, ["T1", "MB", "PA"])


@pytest.mark.parametrize("rv", V2_VERSIONS)
def test_topic(rv):
    nodes = [
        topic("T1", ALICE),
        power("PA1", ALICE, rv, {ALICE: 100, BOB: 50}),
        topic("T2", ALICE),
        power("PA2", ALICE, rv, {ALICE: 100, BOB: 0}),
        power("PB", BOB, rv, {ALICE: 100, BOB: 50}),
        topic("T3", BOB),
        Node("MZ1", ZARA, "m.room.message", None, {}),
        topic("T4", ALICE),
    ]
    edges = [["END", "T4", "MZ1", "PA2", "T2", "PA1", "T1", "START"], ["END", "MZ1", "T3", "PB", "PA1"]]
    check_scenario(rv, nodes, edges, ["T4", "PA2"])


@pytest.mark.parametrize("rv", V2_VERSIONS)
def test_mainline_sort_scenario(rv):
    """T3 wins: T4 was sent later but is based on an older power-levels event of the mainline (PA1, via
    PB), T3 on PA2. Without mainline ordering T4 would win on origin_server_ts."""
    nodes = [
        topic("T1", ALICE),
        power("PA1", ALICE, rv, {ALICE: 100, BOB: 50}),
        topic("T2", ALICE),
        power("PA2", ALICE, rv, {ALICE: 100, BOB: 50}, events={"m.room.power_levels": 100}),
        power("PB", BOB, rv, {ALICE: 100, BOB: 50}),
        topic("T3", BOB),
        topic("T4", ALICE),
    ]
    edges = [["END", "T3", "PA2", "T2", "PA1", "T1", "START"], ["END", "T4", "PB", "PA1"]]
    check_scenario(rv, nodes, edges, ["T3", "PA2"])


def test_two_joins_on_forks_both_kept():
    """Bob and Charlie join on two forks: no conflict between their keys; both memberships survive."""
    room = build_room(V2, [member("MD", EVELYN, EVELYN, "join"), topic("TX", ALICE)],
                      [["END", "MD", "START"], ["END", "TX", "START"]])
    end = room.state_after["END"]
    assert end[("m.room.member", EVELYN)] == eid("MD")
    assert end[TOPIC] == eid("TX")


# --- the building blocks ------------------------------------------------------------------------------------

def test_separate_a_key_missing_from_one_set_is_conflicted():
    a = {("t", ""): "$1", ("u", ""): "$2", ("w", ""): "$5"}
    b = {("t", ""): "$1", ("u", ""): "$3"}
    unconflicted, conflicted = separate_v2([a, b])
    assert unconflicted == {("t", ""): "$1"}
    assert conflicted == {("u", ""): {"$2", "$3"}, ("w", ""): {"$5"}}


def _chain_events(rv=V2):
    # C -> B -> A (auth events), plus D citing A.
    a = make_event(rv, "A", ALICE, "m.room.member", "", {}, [], [])
    b = make_event(rv, "B", ALICE, "m.room.member", "", {}, [a.event_id], [])
    c = make_event(rv, "C", ALICE, "m.room.member", "", {}, [b.event_id], [])
    d = make_event(rv, "D", ALICE, "m.room.member", "", {}, [a.event_id], [])
    return {e.event_id: e for e in (a, b, c, d)}


def test_auth_chains_walk_event_map():
    chains = AuthChains(_chain_events())
    assert chains(eid("C")) == {eid("B"), eid("A")}
    assert chains(eid("A")) == set()
    assert chains.of_many([eid("C"), eid("D")]) == {eid("A"), eid("B")}


def test_auth_chains_use_the_given_function():
    chains = AuthChains({}, lambda e: {"$x"} if e == "$y" else set())
    assert chains.of_many(["$y", "$z"]) == {"$x"}


def test_auth_difference_counts_the_state_events_themselves():
    """{A, B} against {C} (C -> B -> A): the full auth chains are {A, B} and {A, B, C}; only C differs."""
    em = _chain_events()
    diff = auth_difference([{("a", ""): eid("A"), ("b", ""): eid("B")}, {("c", ""): eid("C")}], AuthChains(em))
    assert diff == {eid("C")}


def test_auth_difference_of_forks():
    em = _chain_events()
    diff = auth_difference([{("c", ""): eid("C")}, {("d", ""): eid("D")}], AuthChains(em))
    assert diff == {eid("B"), eid("C"), eid("D")}


def test_auth_difference_uses_caller_auth_chains():
    chains = {"$1": {"$0"}, "$2": {"$0", "$9"}}
    diff = auth_difference([{("x", ""): "$1"}, {("x", ""): "$2"}], AuthChains({}, lambda e: chains[e]))
    assert diff == {"$1", "$2", "$9"}


def test_conflicted_subgraph_is_the_paths_between_conflicted_events():
    """X1 -> M -> X2 -> R (auth edges), Y -> R: with X1, X2 and Y conflicted the subgraph is the path
    X1, M, X2; R (below the conflicted events but reaching none) and Y (reaching none, reached by
    none) are not on any path."""
    rv = V2
    r = make_event(rv, "R", ALICE, "s", "", {}, [], [])
    x2 = make_event(rv, "X2", ALICE, "s", "x", {}, [r.event_id], [])
    m = make_event(rv, "M", ALICE, "s", "m", {}, [x2.event_id], [])
    x1 = make_event(rv, "X1", ALICE, "s", "x", {}, [m.event_id], [])
    y = make_event(rv, "Y", ALICE, "s", "y", {}, [r.event_id], [])
    em = {e.event_id: e for e in (r, x2, m, x1, y)}
    conflicted = {x1.event_id, x2.event_id, y.event_id}
    assert conflicted_subgraph(conflicted, AuthChains(em), em) == {x1.event_id, m.event_id, x2.event_id}


def test_power_events():
    ev = lambda t, sk, c, sender=ALICE: make_event(V2, "P", sender, t, sk, c, [], [])  # noqa: E731
    assert is_power_event(ev("m.room.power_levels", "", {}))
    assert is_power_event(ev("m.room.join_rules", "", {}))
    assert is_power_event(ev("m.room.member", BOB, {"membership": "ban"}))
    assert is_power_event(ev("m.room.member", BOB, {"membership": "leave"}))  # a kick
    assert not is_power_event(ev("m.room.member", ALICE, {"membership": "leave"}))  # leaving oneself
    assert not is_power_event(ev("m.room.member", BOB, {"membership": "invite"}))
    assert not is_power_event(ev("m.room.topic", "", {}))
    assert not is_power_event(make_event(V2, "M", ALICE, "m.room.power_levels", None, {}, [], []))


def test_kahn_lexicographically_smallest_topological_order():
    """The graph l,m,n,p -> o, m -> n; with equal power and timestamps the event ID breaks ties: o first
    (the only event without auth events in the set), then l, n, m (after n), p."""
    deps = {"l": ["o"], "m": ["n", "o"], "n": ["o"], "o": [], "p": ["o"]}
    em = {}
    for node, auth in deps.items():
        em[f"${node}"] = make_event(V2, node, ALICE, "s", node, {}, [f"${a}" for a in auth], [])
        em[f"${node}"].pdu["event_id"] = f"${node}"
    order = reverse_topological_power_sort(em, em, power_level=lambda ev: 0)
    assert order == ["$o", "$l", "$n", "$m", "$p"]


def test_kahn_ties_broken_by_power_then_ts_then_id():
    em = {}
    specs = [("a", 10, 5), ("b", 50, 9), ("c", 10, 1), ("d", 10, 1)]
    for node, level, ts in specs:
        ev = make_event(V2, node, f"@{node}:x", "s", node, {}, [], [], ts=ts)
        em[ev.event_id] = ev
    levels = {f"@{n}:x": lvl for n, lvl, _ in specs}
    order = reverse_topological_power_sort(em, em, power_level=lambda ev: levels[ev.sender])
    # b has the greatest power; c and d tie on power and ts, so the event ID decides; a is latest.
    assert order == [eid("b"), eid("c"), eid("d"), eid("a")]


def test_kahn_power_comes_from_the_events_auth_events():
    """The sender's level is read from the power-levels event among the event's own auth events."""
    rv = V2
    create = make_event(rv, "CREATE", ALICE, "m.room.create", "", {"creator": ALICE}, [], [])
    pl = make_event(rv, "PL", ALICE, "m.room.power_levels", "", {"users": {ALICE: 100, BOB: 60}},
                    [create.event_id], [])
    # Both cite only the create event: Alice is the creator (100 without power levels), Bob has 0.
    bob_low = make_event(rv, "XB", BOB, "m.room.topic", "", {}, [create.event_id], [], ts=1)
    alice = make_event(rv, "XA", ALICE, "m.room.topic", "", {}, [create.event_id], [], ts=2)
    # Charlie cites PL where he is not listed: users_default 0; Bob2 cites PL: 60.
    charlie = make_event(rv, "XC", CHARLIE, "m.room.topic", "", {}, [create.event_id, pl.event_id], [], ts=0)
    bob_high = make_event(rv, "XD", BOB, "m.room.topic", "", {}, [create.event_id, pl.event_id], [], ts=3)
    em = {e.event_id: e for e in (create, pl, bob_low, alice, charlie, bob_high)}
    order = reverse_topological_power_sort([e.event_id for e in (bob_low, alice, charlie, bob_high)], em)
    assert order == [alice.event_id, bob_high.event_id, charlie.event_id, bob_low.event_id]


def test_v12_creators_sort_first_with_infinite_power():
    rv = V12
    create = make_event(rv, "CREATE", ALICE, "m.room.create", "", {"additional_creators": [BOB]}, [], [])
    pl = make_event(rv, "PL", ALICE, "m.room.power_levels", "", {"users": {CHARLIE: 1000000}}, [], [])
    c = make_event(rv, "XC", CHARLIE, "m.room.topic", "", {}, [pl.event_id], [], ts=1)
    b = make_event(rv, "XB", BOB, "m.room.topic", "", {}, [pl.event_id], [], ts=2)
    em = {e.event_id: e for e in (create, pl, c, b)}
    assert state_res.sender_power_level(b, em) == math.inf
    assert reverse_topological_power_sort([c.event_id, b.event_id], em) == [b.event_id, c.event_id]


def test_mainline_sort_unit():
    """Mainline P2 -> P1 -> P0. Events based on older mainline entries come first; an event with no
    power-levels event at all (position ∞) comes before everything; an event based on an off-mainline
    power-levels event takes the position of the first mainline event below it; ties by ts then ID."""
    rv = V2
    p0 = make_event(rv, "P0", ALICE, "m.room.power_levels", "", {}, [], [])
    p1 = make_event(rv, "P1", ALICE, "m.room.power_levels", "", {}, [p0.event_id], [])
    p2 = make_event(rv, "P2", ALICE, "m.room.power_levels", "", {}, [p1.event_id], [])
    side = make_event(rv, "PS", BOB, "m.room.power_levels", "", {}, [p0.event_id], [])
    on_p2 = make_event(rv, "E2", ALICE, "m.room.topic", "", {}, [p2.event_id], [], ts=1)
    on_p1 = make_event(rv, "E1", ALICE, "m.room.topic", "", {}, [p1.event_id], [], ts=5)
    on_p1b = make_event(rv, "E1B", ALICE, "m.room.topic", "", {}, [p1.event_id], [], ts=5)
    on_side = make_event(rv, "ES", ALICE, "m.room.topic", "", {}, [side.event_id], [], ts=0)
    bare = make_event(rv, "EX", ALICE, "m.room.topic", "", {}, [], [], ts=99)
    em = {e.event_id: e for e in (p0, p1, p2, side, on_p2, on_p1, on_p1b, on_side, bare)}
    order = mainline_sort([on_p2.event_id, on_p1.event_id, on_p1b.event_id, on_side.event_id, bare.event_id],
                          p2.event_id, em)
    assert order == [bare.event_id, on_side.event_id, on_p1.event_id, on_p1b.event_id, on_p2.event_id]
    # Without a resolved power-levels event every position is ∞: ts then ID.
    assert mainline_sort([bare.event_id, on_p2.event_id, on_side.event_id], None, em) == \
        [on_side.event_id, on_p2.event_id, bare.event_id]


# --- whole resolutions built by hand ------------------------------------------------------------------------

class Builder:
    """Events one after another in one room, with explicit auth events."""

    def __init__(self, rv: RoomVersion):
        self.rv = rv
        self.events: dict[str, Event] = {}
        self.ts = 0
        content = {"room_version": rv.identifier}
        if not rv.implicit_room_creator:
            content["creator"] = ALICE
        self.create = self.add("CREATE", ALICE, "m.room.create", "", content, [])

    def add(self, node, sender, type_, state_key, content, auth, *, rejected=False) -> str:
        self.ts += 1
        ids = [a for a in auth]
        if not self.rv.room_id_from_create_event and type_ != "m.room.create":
            ids = [eid("CREATE"), *ids]
        ev = make_event(self.rv, node, sender, type_, state_key, content, ids, [], ts=self.ts,
                        depth=self.ts, rejected=rejected)
        self.events[ev.event_id] = ev
        return ev.event_id

    def state(self, *ids: str) -> dict:
        return {self.events[i].state_pair: i for i in [eid("CREATE"), *ids]}


def test_v2_unconflicted_state_is_kept_even_if_it_would_not_pass_now():
    """Step 5: the unconflicted state map is re-applied over the result. Bob's topic is in both state sets,
    although the conflicted power levels resolve to PA2 under which Bob could not set it."""
    b = Builder(V2)
    ma = b.add("MA", ALICE, "m.room.member", ALICE, JOIN, [])
    pa1 = b.add("PA1", ALICE, "m.room.power_levels", "", {"users": {ALICE: 100, BOB: 50}}, [ma])
    mb = b.add("MB", BOB, "m.room.member", BOB, JOIN, [pa1])
    tb = b.add("TB", BOB, "m.room.topic", "", {"topic": "b"}, [pa1, mb])
    pa2 = b.add("PA2", ALICE, "m.room.power_levels", "", {"users": {ALICE: 100, BOB: 0}}, [ma, pa1])
    s1 = b.state(ma, mb, tb, pa1)
    s2 = b.state(ma, mb, tb, pa2)
    result = resolve_state(V2, [s1, s2], b.events)
    assert result[PL] == pa2
    assert result[TOPIC] == tb


def _join_rules_reset_case(rv: RoomVersion):
    """rooms/v12.md change 1 (Synapse's test_state_reset_start_empty_set): the join rules are in conflict,
    and their sender's membership is not, but it is a leave. v2 re-checks the join rules against the
    unconflicted state, where Alice has left: both fail and the join rules vanish. v2.1 starts from an
    empty state and falls back on each event's own auth events, so the newer join rules win."""
    b = Builder(rv)
    users = {BOB: 100} if rv.privileged_creators else {ALICE: 100, BOB: 100}
    ma1 = b.add("MA1", ALICE, "m.room.member", ALICE, JOIN, [])
    pw = b.add("POWER", ALICE, "m.room.power_levels", "", {"users": users}, [ma1])
    jr1 = b.add("JR1", ALICE, "m.room.join_rules", "", {"join_rule": "public"}, [ma1, pw])
    mb = b.add("MB", BOB, "m.room.member", BOB, JOIN, [pw, jr1])
    jr2 = b.add("JR2", ALICE, "m.room.join_rules", "", {"join_rule": "invite"}, [ma1, pw])
    ma2 = b.add("MA2", ALICE, "m.room.member", ALICE, {"membership": "leave"}, [pw, ma1])
    correct = b.state(ma2, mb, pw, jr2)
    incorrect = b.state(ma2, mb, pw, jr1)
    return b, correct, incorrect, jr2


def test_v2_join_rules_reset_to_missing():
    b, correct, incorrect, _ = _join_rules_reset_case(V2)
    result = resolve_state(V2, [correct, incorrect], b.events)
    assert JR not in result


def test_v21_starts_from_the_empty_state():
    b, correct, incorrect, jr2 = _join_rules_reset_case(V12)
    result = resolve_state(V12, [correct, incorrect], b.events)
    assert result == correct
    assert result[JR] == jr2


def test_v21_replays_the_conflicted_state_subgraph():
    """rooms/v12.md change 2 (Synapse's test_state_reset_replay_conflicted_subgraph). Eve's rename ME2
    cites the old power levels POWER1 although it follows her join ME1 under POWER3, and a fork's state
    kept POWER1. The events between the conflicted ones (POWER2, ME1 ...) are replayed, so POWER3 wins
    and Eve's membership is ME1 (ME2 replays first, in the POWER1 epoch)."""
    rv = V12
    b = Builder(rv)
    ma = b.add("MA", ALICE, "m.room.member", ALICE, JOIN, [])
    p1 = b.add("POWER1", ALICE, "m.room.power_levels", "", {"users": {}}, [ma])
    jr = b.add("JR", ALICE, "m.room.join_rules", "", {"join_rule": "public"}, [ma, p1])
    mb = b.add("MB", BOB, "m.room.member", BOB, JOIN, [p1, jr])
    mc = b.add("MC", CHARLIE, "m.room.member", CHARLIE, JOIN, [p1, jr])
    p2 = b.add("POWER2", ALICE, "m.room.power_levels", "", {"users": {BOB: 50}}, [ma, p1])
    p3 = b.add("POWER3", BOB, "m.room.power_levels", "", {"users": {BOB: 50, CHARLIE: 50}}, [mb, p2])
    me1 = b.add("ME1", EVELYN, "m.room.member", EVELYN, JOIN, [p3, jr])
    me2 = b.add("ME2", EVELYN, "m.room.member", EVELYN, JOIN, [p1, jr, me1])
    mz = b.add("MZ", ZARA, "m.room.member", ZARA, JOIN, [p3, jr])
    dodgy = b.state(ma, mb, mc, me2, p1, jr)
    sensible = b.state(ma, mb, mc, mz, p3, jr)
    expected = b.state(ma, mb, mc, me1, mz, p3, jr)
    assert resolve_state(rv, [dodgy, sensible], b.events) == expected
    # The create event is never part of the full conflicted set.
    _, conflicted = separate_v2([dodgy, sensible])
    fcs = state_res.full_conflicted_set([dodgy, sensible], conflicted, AuthChains(b.events), b.events, v21=True)
    assert eid("CREATE") not in fcs
    assert {p2, me1} <= fcs
    fcs_v2 = state_res.full_conflicted_set([dodgy, sensible], conflicted, AuthChains(b.events), b.events, v21=False)
    # POWER2 is in both full auth chains (below POWER3, which ME1 cites): only the subgraph (ME2 -> ME1
    # -> POWER3 -> POWER2 -> POWER1) brings it in.
    assert me1 in fcs_v2 and p2 not in fcs_v2


def test_caller_supplied_auth_chains_give_the_same_result():
    b, correct, incorrect, _ = _join_rules_reset_case(V12)
    calls = []

    def chain(event_id):
        calls.append(event_id)
        return AuthChains(b.events)(event_id)

    assert resolve_state(V12, [correct, incorrect], b.events, chain) == \
        resolve_state(V12, [correct, incorrect], b.events)
    assert calls


def test_rejected_auth_events_are_not_used():
    """A topic whose only power-levels auth event is rejected cannot use it: the key is absent from the
    state being built, so the check sees no power levels and the topic needs 50 (state_default). The
    rejected power-levels event itself, in the auth difference, is not admitted either."""
    rv = V2
    b = Builder(rv)
    ma = b.add("MA", ALICE, "m.room.member", ALICE, JOIN, [])
    mb = b.add("MB", BOB, "m.room.member", BOB, JOIN, [])
    bad_pl = b.add("BADPL", ALICE, "m.room.power_levels", "", {"users": {ALICE: 100, BOB: 100}}, [ma],
                   rejected=True)
    tb = b.add("TB", BOB, "m.room.topic", "", {"topic": "x"}, [mb, bad_pl])
    ta = b.add("TA", ALICE, "m.room.topic", "", {"topic": "a"}, [ma])
    s1 = b.state(ma, mb, tb)
    s2 = b.state(ma, mb, ta)
    result = resolve_state(rv, [s1, s2], b.events)
    assert result[TOPIC] == ta  # Alice, the creator (100 without power levels), may; Bob (0) may not
    assert PL not in result


def test_rejected_events_in_the_conflicted_set_are_skipped():
    rv = V2
    b = Builder(rv)
    ma = b.add("MA", ALICE, "m.room.member", ALICE, JOIN, [])
    t1 = b.add("T1", ALICE, "m.room.topic", "", {"topic": "1"}, [ma])
    t2 = b.add("T2", ALICE, "m.room.topic", "", {"topic": "2"}, [ma], rejected=True)
    result = resolve_state(rv, [b.state(ma, t1), b.state(ma, t2)], b.events)
    assert result[TOPIC] == t1  # T2 is later and allowed, but rejected


def test_rejected_state_event_falls_back_on_own_auth_event():
    """A rejected event in the state being built is not used for a key; the event's own auth event is."""
    rv = V2
    b = Builder(rv)
    ma = b.add("MA", ALICE, "m.room.member", ALICE, JOIN, [])
    pl = b.add("PL", ALICE, "m.room.power_levels", "", {"users": {ALICE: 100, BOB: 50}}, [ma])
    bad_pl = b.add("BADPL", ALICE, "m.room.power_levels", "", {"users": {ALICE: 100}}, [ma, pl],
                   rejected=True)
    mb = b.add("MB", BOB, "m.room.member", BOB, JOIN, [pl])
    tb = b.add("TB", BOB, "m.room.topic", "", {"topic": "b"}, [pl, mb])
    auth = state_res.auth_map_for(b.events[tb], {PL: bad_pl}, b.events)
    assert auth[PL].event_id == pl


def test_trivial_inputs():
    b = Builder(V2)
    s = b.state()
    assert resolve_state(V2, [], b.events) == {}
    assert resolve_state(V2, [s], b.events) == s
    assert resolve_state(V2, [s, dict(s)], b.events) == s


# --- property tests -----------------------------------------------------------------------------------------

USERS = [ALICE, BOB, CHARLIE, ZARA]


def _random_node(rng: random.Random, rv: RoomVersion, i: int) -> Node:
    sender = rng.choice(USERS)
    kind = rng.randrange(6)
    name = f"R{i}"
    if kind == 0:
        return topic(name, sender)
    if kind == 1:
        levels = {u: rng.choice([0, 50, 100]) for u in USERS if rng.random() < 0.6}
        return power(name, sender, rv, levels)
    if kind == 2:
        return member(name, sender, rng.choice(USERS), rng.choice(["ban", "leave"]))
    if kind == 3:
        return member(name, sender, sender, rng.choice(["join", "leave"]))
    if kind == 4:
        return Node(name, sender, "m.room.join_rules", "", {"join_rule": rng.choice(["public", "invite"])})
    return Node(name, sender, "m.room.name", "", {"name": name})


def random_room(rv: RoomVersion, seed: int, n: int) -> Room:
    """The initial room, then `n` random events each after one or two random earlier events."""
    rng = random.Random(seed)
    room = build_room(rv, [], [["END", "START"]])
    # Give Bob and Charlie some power, so that more of the random events pass.
    room.add(power("RP", ALICE, rv, {ALICE: 100, BOB: 100, CHARLIE: 50}), ["START"])
    ids = ["START", "RP"]
    for i in range(n):
        prev = sorted(set(rng.sample(ids, k=min(len(ids), rng.choice([1, 1, 2])))))
        room.add(_random_node(rng, rv, i), prev)
        ids.append(f"R{i}")
    return room


def _shuffled(d: dict, rng: random.Random) -> dict:
    items = list(d.items())
    rng.shuffle(items)
    return dict(items)


PROPERTY_SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("rv", [pytest.param(V1, id="v1"), *V2_VERSIONS])
@PROPERTY_SETTINGS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 8), k=st.integers(2, 3))
def test_result_independent_of_state_set_and_dict_order(rv, seed, n, k):
    room = random_room(rv, seed, n)
    rng = random.Random(seed ^ 0x5EED)
    nodes = list(room.state_after)
    sets = [room.state_after[rng.choice(nodes)] for _ in range(k)]
    expected = resolve_state(rv, sets, room.events)
    for perm in itertools.permutations(sets):
        shuffled_sets = [_shuffled(s, rng) for s in perm]
        assert resolve_state(rv, shuffled_sets, _shuffled(room.events, rng)) == expected


@PROPERTY_SETTINGS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 8))
def test_v2_unconflicted_state_always_kept(seed, n):
    room = random_room(V2, seed, n)
    rng = random.Random(seed)
    nodes = list(room.state_after)
    sets = [room.state_after[rng.choice(nodes)] for _ in range(2)]
    unconflicted, conflicted = separate_v2(sets)
    result = resolve_state(V2, sets, room.events)
    assert unconflicted.items() <= result.items()
    # Every key of the result comes from the state sets.
    assert all(v in {s.get(k) for s in sets} for k, v in result.items())


@PROPERTY_SETTINGS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 8))
def test_v21_result_uses_only_events_of_the_state_sets_and_keeps_unconflicted(seed, n):
    room = random_room(V12, seed, n)
    rng = random.Random(seed)
    nodes = list(room.state_after)
    sets = [room.state_after[rng.choice(nodes)] for _ in range(2)]
    unconflicted, _ = separate_v2(sets)
    result = resolve_state(V12, sets, room.events)
    assert unconflicted.items() <= result.items()
    # Replayed auth-chain events may win a key, but only with an event of that key's type/state_key.
    for k, v in result.items():
        assert room.events[v].state_pair == k


def test_resolving_a_state_with_itself_and_its_ancestor_is_stable():
    """Resolving the state at END with the state at START gives the state at END back in simple linear
    histories (every change since START is authorised on a single branch)."""
    room = build_room(V2, [topic("T", ALICE), power("P", ALICE, V2, {ALICE: 100, BOB: 50})],
                      [["END", "P", "T", "START"]])
    end = room.state_after["END"]
    assert resolve_state(V2, [end, room.state_after["START"]], room.events) == end
