"""The original state resolution algorithm of room version 1 (rooms/v1.md, "State resolution"):
conflicts of power levels, then join rules, then memberships, each by ascending depth / descending
sha1(event_id) and stopping at the first event not allowed; every other conflict to the highest depth and
lowest sha1(event_id) that passes authentication."""
from __future__ import annotations

import hashlib

from apps.rooms.events import Event
from apps.rooms.room_versions import V1
from apps.rooms.state_res import resolve_state
from apps.rooms.state_res_v1 import separate_v1

ALICE = "@alice:example.com"
BOB = "@bob:example.com"
CHARLIE = "@charlie:example.com"
ROOM_ID = "!room:example.com"
JOIN = {"membership": "join"}
TOPIC = ("m.room.topic", "")
PL = ("m.room.power_levels", "")
JR = ("m.room.join_rules", "")


class Room:
    """Events of a v1 room with explicit IDs, depths and auth events (the create event added to each)."""

    def __init__(self):
        self.events: dict[str, Event] = {}
        self.add("CREATE", ALICE, "m.room.create", "", {"creator": ALICE}, [], depth=1)

    def add(self, node: str, sender: str, type_: str, state_key: str | None, content: dict, auth: list[str],
            *, depth: int, ts: int = 0) -> str:
        event_id = f"${node}:example.com"
        if type_ != "m.room.create":
            auth = ["$CREATE:example.com", *auth]
        pdu = {"event_id": event_id, "room_id": ROOM_ID, "sender": sender, "type": type_, "content": content,
               "depth": depth, "origin_server_ts": ts, "auth_events": [[a, {}] for a in auth],
               "prev_events": []}
        if state_key is not None:
            pdu["state_key"] = state_key
        self.events[event_id] = Event(pdu, V1)
        return event_id

    def state(self, *ids: str) -> dict:
        return {self.events[i].state_pair: i for i in ["$CREATE:example.com", *ids]}

    def resolve(self, *sets: dict) -> dict:
        return resolve_state(V1, list(sets), self.events)


def _room_with_members() -> tuple[Room, str, str, str, str]:
    """Alice (creator, 100), Bob (50) and Charlie (0) joined; power levels PA."""
    r = Room()
    ma = r.add("MA", ALICE, "m.room.member", ALICE, JOIN, [], depth=2)
    pa = r.add("PA", ALICE, "m.room.power_levels", "", {"users": {ALICE: 100, BOB: 50}}, [ma], depth=3)
    jr = r.add("JR", ALICE, "m.room.join_rules", "", {"join_rule": "public"}, [ma, pa], depth=4)
    mb = r.add("MB", BOB, "m.room.member", BOB, JOIN, [pa, jr], depth=5)
    return r, ma, pa, jr, mb


def sha1(event_id: str) -> str:
    return hashlib.sha1(event_id.encode()).hexdigest()


def test_a_key_missing_from_some_states_is_not_a_conflict():
    unconflicted, conflicted = separate_v1([{("a", ""): "$1", ("b", ""): "$2"}, {("a", ""): "$1", ("c", ""): "$3"},
                                            {("b", ""): "$4"}])
    assert unconflicted == {("a", ""): "$1", ("c", ""): "$3"}
    assert conflicted == {("b", ""): {"$2", "$4"}}


def test_topic_conflict_resolved_by_depth():
    """Two allowed topics: the highest depth wins, whatever the timestamps."""
    r, ma, pa, jr, mb = _room_with_members()
    deep = r.add("TDEEP", ALICE, "m.room.topic", "", {"topic": "deep"}, [ma, pa], depth=9, ts=1)
    shallow = r.add("TSHALLOW", BOB, "m.room.topic", "", {"topic": "shallow"}, [mb, pa], depth=7, ts=99)
    base = (ma, pa, jr, mb)
    assert r.resolve(r.state(*base, deep), r.state(*base, shallow))[TOPIC] == deep
    assert r.resolve(r.state(*base, shallow), r.state(*base, deep))[TOPIC] == deep


def test_topic_conflict_same_depth_lowest_sha1_wins():
    r, ma, pa, jr, mb = _room_with_members()
    t1 = r.add("T1", ALICE, "m.room.topic", "", {"topic": "1"}, [ma, pa], depth=7)
    t2 = r.add("T2", ALICE, "m.room.topic", "", {"topic": "2"}, [ma, pa], depth=7)
    base = (ma, pa, jr, mb)
    winner = min((t1, t2), key=sha1)
    assert r.resolve(r.state(*base, t1), r.state(*base, t2))[TOPIC] == winner


def test_topic_conflict_the_deepest_allowed_event_wins():
    """Charlie (power 0) cannot set the topic (state_default 50): his deeper topic loses to Bob's."""
    r, ma, pa, jr, mb = _room_with_members()
    mc = r.add("MC", CHARLIE, "m.room.member", CHARLIE, JOIN, [pa, jr], depth=6)
    tc = r.add("TC", CHARLIE, "m.room.topic", "", {"topic": "c"}, [mc, pa], depth=10)
    tb = r.add("TB", BOB, "m.room.topic", "", {"topic": "b"}, [mb, pa], depth=8)
    base = (ma, pa, jr, mb, mc)
    assert r.resolve(r.state(*base, tc), r.state(*base, tb))[TOPIC] == tb


def test_when_no_event_passes_the_lowest_depth_one_is_taken():
    r, ma, pa, jr, mb = _room_with_members()
    mc = r.add("MC", CHARLIE, "m.room.member", CHARLIE, JOIN, [pa, jr], depth=6)
    t1 = r.add("T1", CHARLIE, "m.room.topic", "", {"topic": "1"}, [mc, pa], depth=10)
    t2 = r.add("T2", CHARLIE, "m.room.topic", "", {"topic": "2"}, [mc, pa], depth=8)
    base = (ma, pa, jr, mb, mc)
    assert r.resolve(r.state(*base, t1), r.state(*base, t2))[TOPIC] == t2


def test_power_levels_in_ascending_depth_while_allowed():
    """PA (depth 3) then PB (depth 6, Bob at 50 lowering Charlie's... adding Charlie at 50): allowed on top
    of PA, so PB wins."""
    r, ma, pa, jr, mb = _room_with_members()
    pb = r.add("PB", BOB, "m.room.power_levels", "", {"users": {ALICE: 100, BOB: 50, CHARLIE: 50}},
               [mb, pa], depth=6)
    base = (ma, jr, mb)
    assert r.resolve(r.state(*base, pa), r.state(*base, pb))[PL] == pb


def test_power_levels_stop_at_the_first_refused_event():
    """PA (depth 3), PX (depth 6: Charlie, power 0, may not change power levels), PY (depth 8: Alice,
    allowed). The walk stops at PX: PA stays, even though PY alone would have been allowed (one of the
    v1 algorithm's known resets)."""
    r, ma, pa, jr, mb = _room_with_members()
    mc = r.add("MC", CHARLIE, "m.room.member", CHARLIE, JOIN, [pa, jr], depth=5)
    px = r.add("PX", CHARLIE, "m.room.power_levels", "", {"users": {ALICE: 100, BOB: 50, CHARLIE: 100}},
               [mc, pa], depth=6)
    py = r.add("PY", ALICE, "m.room.power_levels", "", {"users": {ALICE: 100}}, [ma, pa], depth=8)
    base = (ma, jr, mb, mc)
    result = r.resolve(r.state(*base, pa), r.state(*base, px), r.state(*base, py))
    assert result[PL] == pa
    # Without the refused one in the way, PY is reached.
    assert r.resolve(r.state(*base, pa), r.state(*base, py))[PL] == py


def test_membership_conflict_after_power_levels():
    """Bob's join vs. Alice's ban of Bob: ascending depth puts the join first and the ban is allowed on top
    of it, so Bob is banned; his topic is then checked against that state and loses."""
    r, ma, pa, jr, mb = _room_with_members()
    ban = r.add("BAN", ALICE, "m.room.member", BOB, {"membership": "ban"}, [ma, pa, mb], depth=7)
    tb = r.add("TB", BOB, "m.room.topic", "", {"topic": "b"}, [mb, pa], depth=9)
    ta = r.add("TA", ALICE, "m.room.topic", "", {"topic": "a"}, [ma, pa], depth=6)
    result = r.resolve(r.state(ma, pa, jr, ban, ta), r.state(ma, pa, jr, mb, tb))
    assert result[("m.room.member", BOB)] == ban
    assert result[TOPIC] == ta


def test_join_rules_resolved_before_members():
    """Alice makes the room invite-only (depth 6) while Charlie joins the public room (depth 7): the join
    rules resolve to invite, and Charlie's join, checked against them, has no conflict to lose (a
    missing key is not a conflict in v1) so it stays: v1 re-checks only conflicting events."""
    r, ma, pa, jr, mb = _room_with_members()
    jr2 = r.add("JR2", ALICE, "m.room.join_rules", "", {"join_rule": "invite"}, [ma, pa], depth=6)
    mc = r.add("MC", CHARLIE, "m.room.member", CHARLIE, JOIN, [pa, jr], depth=7)
    result = r.resolve(r.state(ma, pa, mb, jr2), r.state(ma, pa, mb, jr, mc))
    assert result[JR] == jr2
    assert result[("m.room.member", CHARLIE)] == mc


def test_unconflicted_union_and_single_set():
    r, ma, pa, jr, mb = _room_with_members()
    s = r.state(ma, pa, jr, mb)
    assert r.resolve(s) == s
    assert r.resolve(s, dict(s)) == s
    assert r.resolve(r.state(ma, pa), r.state(jr, mb)) == s
