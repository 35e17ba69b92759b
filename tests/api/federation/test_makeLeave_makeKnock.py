"""make_leave / v2 send_leave (a remote user leaves, or rejects an invite) and make_knock / send_knock."""
from __future__ import annotations

import pytest

from tests.api.federation.remote import FED, FakeRemote, q
from tests.api.rooms.helpers import API, create_room
from tests.conftest import assert_error


@pytest.fixture
def remote(db):
    return FakeRemote("remote.test")


def members(client, room_id):
    return set(client.get(f"{API}/rooms/{room_id}/joined_members").json_body["joined"])


def test_remote_user_leaves(alice, remote):
    room_id = create_room(alice, preset="public_chat")
    bob = remote.user("bob")
    remote.join(room_id, bob)
    assert bob in members(alice, room_id)
    made = remote.make_membership("make_leave", room_id, bob)
    assert made.status_code == 200, made.json_body
    assert made.json_body["room_version"] == "12"
    assert made.json_body["event"]["content"]["membership"] == "leave"
    event = remote.sign_template(made.json_body["event"], "12")
    resp = remote.put(f"{FED}/v2/send_leave/{q(room_id)}/{q(event.event_id)}", event.get_pdu_json())
    assert resp.status_code == 200 and resp.json_body == {}
    assert bob not in members(alice, room_id)


def test_send_leave_v1_shape(alice, remote):
    room_id = create_room(alice, preset="public_chat")
    bob = remote.user("bob")
    remote.join(room_id, bob)
    event = remote.sign_template(remote.make_membership("make_leave", room_id, bob).json_body["event"], "12")
    resp = remote.put(f"{FED}/v1/send_leave/{q(room_id)}/{q(event.event_id)}", event.get_pdu_json())
    assert resp.status_code == 200 and resp.json_body == [200, {}]


def test_make_leave_of_a_non_member_is_forbidden(alice, remote):
    room_id = create_room(alice, preset="public_chat")
    assert_error(remote.make_membership("make_leave", room_id, remote.user("bob")), 403, "M_FORBIDDEN")
    assert_error(remote.make_membership("make_leave", room_id, "@x:other.test"), 403, "M_FORBIDDEN")


def test_knock(alice, remote):
    room_id = create_room(alice, preset="private_chat", name="Knock here", room_version="10",
                          initial_state=[{"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "knock"}}])
    bob = remote.user("bob")
    made = remote.make_membership("make_knock", room_id, bob, versions=("10",))
    assert made.status_code == 200, made.json_body
    assert made.json_body["event"]["content"]["membership"] == "knock"
    event = remote.sign_template(made.json_body["event"], "10")
    resp = remote.put(f"{FED}/v1/send_knock/{q(room_id)}/{q(event.event_id)}", event.get_pdu_json())
    assert resp.status_code == 200, resp.json_body
    types = {e["type"] for e in resp.json_body["knock_room_state"]}
    assert {"m.room.create", "m.room.join_rules", "m.room.name"} <= types
    members_resp = alice.get(f"{API}/rooms/{room_id}/members?membership=knock").json_body["chunk"]
    assert [m["state_key"] for m in members_resp] == [bob]


def test_knock_refusals(alice, remote):
    public = create_room(alice, preset="public_chat", room_version="10")
    assert_error(remote.make_membership("make_knock", public, remote.user("bob"), versions=("10",)), 403,
                 "M_FORBIDDEN")
    old = create_room(alice, preset="public_chat", room_version="6")
    assert_error(remote.make_membership("make_knock", old, remote.user("bob"), versions=("6",)), 400,
                 "M_INCOMPATIBLE_ROOM_VERSION")
    assert_error(remote.get(f"{FED}/v1/make_knock/{q(public)}/{q(remote.user('bob'))}"), 400, "M_MISSING_PARAM")
    assert_error(remote.make_membership("make_knock", public, remote.user("bob"), versions=("9",)), 400,
                 "M_INCOMPATIBLE_ROOM_VERSION")
