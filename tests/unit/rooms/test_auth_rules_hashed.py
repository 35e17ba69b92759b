"""The auth rules on events whose IDs are real reference hashes (apps.rooms.hashing), as rooms build
them: a room's first events for every version, and v12's room ID derived from the create event."""
import pytest

from apps.rooms.auth_rules import AuthError, auth_types_for_event, check_auth_events_selection, check_auth_rules
from apps.rooms.events import Event
from apps.rooms.hashing import room_id_for_create_event
from apps.rooms.room_versions import KNOWN_ROOM_VERSIONS, V12

ALICE, BOB = "@alice:a.test", "@bob:b.test"


def _ref(rv, event_id):
    return [event_id, {}] if rv.event_format == 1 else event_id


class Chain:
    def __init__(self, rv):
        self.rv = rv
        self.n = 0
        self.state: dict = {}
        self.last = None
        content = {"room_version": rv.identifier}
        if not rv.implicit_room_creator:
            content["creator"] = ALICE
        pdu = self._pdu("m.room.create", ALICE, content, "", prev=[], auth=[])
        if rv.room_id_from_create_event:
            del pdu["room_id"]
        self.create = self.append(Event(pdu, rv))
        self.room_id = self.create.room_id

    def _pdu(self, type_, sender, content, state_key=None, *, prev=None, auth=None):
        self.n += 1
        pdu = {"type": type_, "sender": sender, "content": content, "room_id": "!r:a.test", "depth": self.n,
               "origin_server_ts": 1000 + self.n, "prev_events": prev if prev is not None else [],
               "auth_events": auth if auth is not None else [], "hashes": {"sha256": "x"}, "signatures": {}}
        if state_key is not None:
            pdu["state_key"] = state_key
        if self.rv.event_format == 1:
            pdu["event_id"] = f"${self.n}:a.test"
        return pdu

    def build(self, type_, sender, content, state_key=None) -> Event:
        pdu = self._pdu(type_, sender, content, state_key, prev=[_ref(self.rv, self.last.event_id)])
        pdu["room_id"] = self.room_id
        probe = Event(pdu, self.rv)
        listed = [self.state[k] for k in auth_types_for_event(probe) if k in self.state]
        pdu["auth_events"] = [_ref(self.rv, e.event_id) for e in listed]
        event = Event(pdu, self.rv)
        check_auth_events_selection(event, listed)
        return event

    def append(self, event: Event) -> Event:
        self.state[(event.type, event.state_key)] = event
        self.last = event
        return event

    def send(self, type_, sender, content, state_key=None) -> Event:
        event = self.build(type_, sender, content, state_key)
        check_auth_rules(event, self.state)
        return self.append(event)


@pytest.mark.parametrize("rv", list(KNOWN_ROOM_VERSIONS.values()), ids=lambda v: f"v{v.identifier}")
def test_room_start_with_hashed_ids(rv):
    chain = Chain(rv)
    check_auth_rules(chain.create, {})
    # R4.3.1: the creator's join right after the create event.
    chain.send("m.room.member", ALICE, {"membership": "join"}, ALICE)
    users = {} if rv.privileged_creators else {ALICE: 100}
    chain.send("m.room.power_levels", ALICE, {"users": users, "state_default": 50}, "")
    chain.send("m.room.join_rules", ALICE, {"join_rule": "public"}, "")
    chain.send("m.room.member", BOB, {"membership": "join"}, BOB)
    chain.send("m.room.message", BOB, {"body": "hi"})
    with pytest.raises(AuthError):
        chain.send("m.room.name", BOB, {"name": "x"}, "")


@pytest.mark.parametrize("rv", list(KNOWN_ROOM_VERSIONS.values()), ids=lambda v: f"v{v.identifier}")
def test_first_join_of_someone_else_after_create_is_not_special(rv):
    chain = Chain(rv)
    with pytest.raises(AuthError):
        chain.send("m.room.member", BOB, {"membership": "join"}, BOB)


def test_v12_room_id_is_the_create_event_hash():
    chain = Chain(V12)
    assert chain.room_id == room_id_for_create_event(chain.create.pdu, V12)
    assert ("m.room.create", "") not in auth_types_for_event(chain.build("m.room.message", ALICE, {}))
    chain.send("m.room.member", ALICE, {"membership": "join"}, ALICE)
    # An event claiming another room whose create event is the one we hold is rejected (v12 rule 2).
    event = chain.build("m.room.message", ALICE, {})
    pdu = dict(event.pdu, room_id="!" + "A" * 43)
    with pytest.raises(AuthError, match="create event"):
        check_auth_rules(Event(pdu, V12), chain.state)
