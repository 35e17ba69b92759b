"""Federation reads of a room: getEvent, getRoomState, getRoomStateIds, getEventAuth, backfillRoom,
getMissingPreviousEvents, getEventByTimestamp — who may read (a joined server; history visibility;
the room's server ACL) and what comes back."""
from __future__ import annotations

import pytest

from apps.rooms import state_store
from apps.rooms import stores as room_stores
from apps.rooms.room_versions import get_room_version
from apps.rooms.events import Event
from tests.api.federation.remote import FED, FakeRemote, q
from tests.api.rooms.helpers import API, create_room, send
from tests.conftest import assert_error

V12 = get_room_version("12")


@pytest.fixture
def remote(db):
    return FakeRemote("remote.test")


@pytest.fixture
def room(alice, remote):
    """A public room with alice, three messages, and @bob:remote.test joined after them."""
    room_id = create_room(alice, preset="public_chat", name="Reads")
    msgs = [send(alice, room_id, {"msgtype": "m.text", "body": f"m{i}"}).json_body["event_id"] for i in range(3)]
    join, _ = remote.join(room_id, remote.user("bob"))
    return room_id, msgs, join


def ids_of(pdus):
    return [Event(p, V12).event_id for p in pdus]


def test_get_event(alice, remote, room):
    room_id, msgs, _ = room
    resp = remote.get(f"{FED}/v1/event/{q(msgs[0])}")
    assert resp.status_code == 200, resp.json_body
    body = resp.json_body
    assert body["origin"] == "test.local" and isinstance(body["origin_server_ts"], int)
    assert ids_of(body["pdus"]) == [msgs[0]] and body["pdus"][0]["content"]["body"] == "m0"
    assert "signatures" in body["pdus"][0] and "unsigned" not in body["pdus"][0]
    assert_error(remote.get(f"{FED}/v1/event/$missing"), 404, "M_NOT_FOUND")


def test_get_event_follows_history_visibility(alice, db):
    room_id = create_room(alice, preset="private_chat")
    alice.put(f"{API}/rooms/{room_id}/state/m.room.history_visibility/", {"history_visibility": "joined"})
    secret = send(alice, room_id, {"msgtype": "m.text", "body": "secret"}).json_body["event_id"]
    outsider = FakeRemote("outsider.test")
    assert_error(outsider.get(f"{FED}/v1/event/{q(secret)}"), 403, "M_FORBIDDEN")
    alice.put(f"{API}/rooms/{room_id}/state/m.room.history_visibility/", {"history_visibility": "world_readable"})
    public = send(alice, room_id, {"msgtype": "m.text", "body": "public"}).json_body["event_id"]
    assert outsider.get(f"{FED}/v1/event/{q(public)}").status_code == 200
    assert_error(outsider.get(f"{FED}/v1/event/{q(secret)}"), 403, "M_FORBIDDEN")


def test_state_and_state_ids(alice, remote, room):
    room_id, msgs, join = room
    resp = remote.get(f"{FED}/v1/state_ids/{q(room_id)}", query={"event_id": msgs[1]})
    assert resp.status_code == 200, resp.json_body
    expected = state_store.state_before_event(msgs[1])
    assert set(resp.json_body["pdu_ids"]) == set(expected.values())
    chain = set(resp.json_body["auth_chain_ids"])
    assert chain and chain <= set(expected.values())  # every auth event of this room's state is state

    full = remote.get(f"{FED}/v1/state/{q(room_id)}", query={"event_id": msgs[1]})
    assert full.status_code == 200
    assert set(ids_of(full.json_body["pdus"])) == set(expected.values())
    assert set(ids_of(full.json_body["auth_chain"])) == chain
    # The state *before* the event: bob's join is not in the state at the first message, but is
    # in the state before an event after it.
    assert ("m.room.member", remote.user("bob")) not in expected
    later = send(alice, room_id, {"msgtype": "m.text", "body": "after"}).json_body["event_id"]
    after = remote.get(f"{FED}/v1/state_ids/{q(room_id)}", query={"event_id": later}).json_body
    assert join.event_id in after["pdu_ids"]


def test_state_errors(alice, remote, room):
    room_id, msgs, _ = room
    assert_error(remote.get(f"{FED}/v1/state_ids/{q(room_id)}"), 400, "M_MISSING_PARAM")
    assert_error(remote.get(f"{FED}/v1/state_ids/{q(room_id)}", query={"event_id": "$nope"}), 404, "M_NOT_FOUND")
    other = create_room(alice, preset="public_chat")
    assert_error(remote.get(f"{FED}/v1/state_ids/{q(other)}", query={"event_id": msgs[0]}), 403, "M_FORBIDDEN")
    assert_error(remote.get(f"{FED}/v1/state_ids/!unknown:test.local", query={"event_id": msgs[0]}), 404,
                 "M_NOT_FOUND")


def test_server_without_members_may_not_read_state(alice, remote, room):
    room_id, msgs, _ = room
    outsider = FakeRemote("outsider.test")
    for path in (f"{FED}/v1/state/{q(room_id)}", f"{FED}/v1/state_ids/{q(room_id)}"):
        assert_error(outsider.get(path, query={"event_id": msgs[0]}), 403, "M_FORBIDDEN")
    assert_error(outsider.get(f"{FED}/v1/event_auth/{q(room_id)}/{q(msgs[0])}"), 403, "M_FORBIDDEN")
    assert_error(outsider.get(f"{FED}/v1/backfill/{q(room_id)}", query={"v": msgs[0], "limit": 5}), 403,
                 "M_FORBIDDEN")


def test_acl_denied_server_gets_403(alice, remote, room):
    room_id, msgs, _ = room
    resp = alice.put(f"{API}/rooms/{room_id}/state/m.room.server_acl/", {"allow": ["*"], "deny": ["*.test"]})
    assert resp.status_code == 200, resp.json_body
    for resp in (remote.get(f"{FED}/v1/state_ids/{q(room_id)}", query={"event_id": msgs[0]}),
                 remote.get(f"{FED}/v1/state/{q(room_id)}", query={"event_id": msgs[0]}),
                 remote.get(f"{FED}/v1/event_auth/{q(room_id)}/{q(msgs[0])}"),
                 remote.get(f"{FED}/v1/backfill/{q(room_id)}", query={"v": msgs[0], "limit": 5}),
                 remote.post(f"{FED}/v1/get_missing_events/{q(room_id)}",
                             {"earliest_events": [], "latest_events": [msgs[2]]}),
                 remote.get(f"{FED}/v1/event/{q(msgs[0])}"),
                 remote.make_membership("make_join", room_id, remote.user("carol")),
                 remote.make_membership("make_leave", room_id, remote.user("bob"))):
        assert_error(resp, 403, "M_FORBIDDEN")


def test_event_auth(alice, remote, room):
    room_id, msgs, _ = room
    resp = remote.get(f"{FED}/v1/event_auth/{q(room_id)}/{q(msgs[0])}")
    assert resp.status_code == 200, resp.json_body
    chain = ids_of(resp.json_body["auth_chain"])
    event = room_stores.get_event(msgs[0])
    assert set(event.auth_event_ids) <= set(chain)
    assert msgs[0] not in chain
    create_id = "$" + room_id[1:]
    assert create_id in chain  # v12: reached through the power levels' and members' auth events


def test_backfill(alice, remote, room):
    room_id, msgs, _ = room
    resp = remote.get(f"{FED}/v1/backfill/{q(room_id)}", query={"v": msgs[2], "limit": 3})
    assert resp.status_code == 200, resp.json_body
    assert ids_of(resp.json_body["pdus"]) == [msgs[2], msgs[1], msgs[0]]  # deepest first, v included
    everything = remote.get(f"{FED}/v1/backfill/{q(room_id)}", query={"v": msgs[2], "limit": 100}).json_body
    types = [p["type"] for p in everything["pdus"]]
    assert types[-1] == "m.room.create" and len(types) == len(set(ids_of(everything["pdus"])))
    assert_error(remote.get(f"{FED}/v1/backfill/{q(room_id)}", query={"limit": 3}), 400, "M_MISSING_PARAM")
    assert_error(remote.get(f"{FED}/v1/backfill/{q(room_id)}", query={"v": msgs[2], "limit": "x"}), 400,
                 "M_INVALID_PARAM")


def test_backfill_redacts_what_the_server_may_not_see(alice, db):
    room_id = create_room(alice, preset="public_chat")
    alice.put(f"{API}/rooms/{room_id}/state/m.room.history_visibility/", {"history_visibility": "joined"})
    before = send(alice, room_id, {"msgtype": "m.text", "body": "before you came"}).json_body["event_id"]
    remote = FakeRemote("remote.test")
    remote.join(room_id, remote.user("bob"))
    after = send(alice, room_id, {"msgtype": "m.text", "body": "welcome"}).json_body["event_id"]
    pdus = remote.get(f"{FED}/v1/backfill/{q(room_id)}", query={"v": after, "limit": 10}).json_body["pdus"]
    by_id = dict(zip(ids_of(pdus), pdus))
    assert by_id[after]["content"]["body"] == "welcome"
    assert by_id[before]["content"] == {}  # served, but redacted: the graph stays whole


def test_get_missing_events(alice, remote, room):
    room_id, msgs, join = room
    resp = remote.post(f"{FED}/v1/get_missing_events/{q(room_id)}",
                       {"earliest_events": [msgs[0]], "latest_events": [join.event_id], "limit": 10})
    assert resp.status_code == 200, resp.json_body
    assert ids_of(resp.json_body["events"]) == [msgs[1], msgs[2]]  # oldest first, stops at earliest
    limited = remote.post(f"{FED}/v1/get_missing_events/{q(room_id)}",
                          {"earliest_events": [], "latest_events": [join.event_id], "limit": 1}).json_body
    assert ids_of(limited["events"]) == [msgs[2]]
    deep = remote.post(f"{FED}/v1/get_missing_events/{q(room_id)}",
                       {"earliest_events": [], "latest_events": [join.event_id], "limit": 10,
                        "min_depth": room_stores.get_event(msgs[1]).depth}).json_body
    assert ids_of(deep["events"]) == [msgs[1], msgs[2]]
    assert_error(remote.post(f"{FED}/v1/get_missing_events/{q(room_id)}", {"latest_events": [join.event_id]}),
                 400, "M_BAD_JSON")
    assert_error(remote.post(f"{FED}/v1/get_missing_events/{q(room_id)}",
                             {"earliest_events": [], "latest_events": [], "limit": -1}), 400, "M_BAD_JSON")


def test_timestamp_to_event(alice, remote, room):
    room_id, msgs, _ = room
    ts = room_stores.get_event(msgs[1]).origin_server_ts
    resp = remote.get(f"{FED}/v1/timestamp_to_event/{q(room_id)}", query={"ts": ts, "dir": "b"})
    assert resp.status_code == 200, resp.json_body
    found = resp.json_body["event_id"]
    assert room_stores.get_event(found).origin_server_ts <= ts
    assert resp.json_body["origin_server_ts"] == room_stores.get_event(found).origin_server_ts
    assert_error(remote.get(f"{FED}/v1/timestamp_to_event/{q(room_id)}", query={"ts": 1, "dir": "b"}), 404,
                 "M_NOT_FOUND")
    assert_error(remote.get(f"{FED}/v1/timestamp_to_event/{q(room_id)}", query={"ts": ts, "dir": "x"}), 400,
                 "M_INVALID_PARAM")
    assert_error(remote.get(f"{FED}/v1/timestamp_to_event/{q(room_id)}", query={"dir": "f"}), 400,
                 "M_MISSING_PARAM")


def test_reads_bounded_queries(alice, remote, room, django_assert_max_num_queries):
    room_id, msgs, join = room
    for i in range(20):
        send(alice, room_id, {"msgtype": "m.text", "body": f"more {i}"})
    last = room_stores.forward_extremities(room_id)[0][0]
    with django_assert_max_num_queries(40):
        assert remote.get(f"{FED}/v1/state_ids/{q(room_id)}", query={"event_id": last}).status_code == 200
    with django_assert_max_num_queries(60):
        resp = remote.get(f"{FED}/v1/backfill/{q(room_id)}", query={"v": last, "limit": 20})
        assert resp.status_code == 200 and len(resp.json_body["pdus"]) == 20
