"""GET /rooms/{roomId}/state, GET and PUT /rooms/{roomId}/state/{eventType}/{stateKey}."""
from __future__ import annotations

import pytest

from tests.conftest import assert_error

from tests.api.rooms.helpers import API, create_room


@pytest.mark.parametrize("version", ["10", "11", "12"])
def test_state_changes_apply(alice, bob, version):
    room_id = create_room(alice, room_version=version, name="before", invite=[bob.user_id])
    resp = alice.put(f"{API}/rooms/{room_id}/state/m.room.name", {"name": "after"})
    assert resp.status_code == 200, resp.json_body
    event_id = resp.json_body["event_id"]
    bob.post(f"{API}/rooms/{room_id}/join")
    assert bob.get(f"{API}/rooms/{room_id}/state/m.room.name").json_body == {"name": "after"}
    assert bob.get(f"{API}/rooms/{room_id}/state/m.room.name/").json_body == {"name": "after"}
    full = bob.get(f"{API}/rooms/{room_id}/state/m.room.name/?format=event").json_body
    assert full["event_id"] == event_id and full["state_key"] == "" and full["sender"] == alice.user_id
    names = [e for e in bob.get(f"{API}/rooms/{room_id}/state").json_body if e["type"] == "m.room.name"]
    assert [e["event_id"] for e in names] == [event_id]


def test_state_keys_with_slashes_and_custom_types(alice):
    room_id = create_room(alice)
    path = f"{API}/rooms/{room_id}/state/org.example.thing/a/b%2Fc"
    assert alice.put(path, {"v": 1}).status_code == 200
    assert alice.get(path).json_body == {"v": 1}
    ev = alice.get(path + "?format=event").json_body
    assert ev["state_key"] == "a/b/c"


def test_same_content_again_returns_the_current_event(alice):
    room_id = create_room(alice)
    first = alice.put(f"{API}/rooms/{room_id}/state/m.room.topic", {"topic": "x"}).json_body["event_id"]
    assert alice.put(f"{API}/rooms/{room_id}/state/m.room.topic", {"topic": "x"}).json_body["event_id"] == first
    assert alice.put(f"{API}/rooms/{room_id}/state/m.room.topic", {"topic": "y"}).json_body["event_id"] != first


def test_power_levels_forbid_bob_changing_the_name(alice, bob):
    room_id = create_room(alice, preset="public_chat", room_version="11", name="alice's")
    bob.post(f"{API}/rooms/{room_id}/join")
    assert_error(bob.put(f"{API}/rooms/{room_id}/state/m.room.name", {"name": "bob's"}), 403, "M_FORBIDDEN")
    assert bob.get(f"{API}/rooms/{room_id}/state/m.room.name").json_body == {"name": "alice's"}
    # Once alice gives bob power, he may.
    pl = alice.get(f"{API}/rooms/{room_id}/state/m.room.power_levels").json_body
    pl["users"][bob.user_id] = 50
    assert alice.put(f"{API}/rooms/{room_id}/state/m.room.power_levels", pl).status_code == 200
    assert bob.put(f"{API}/rooms/{room_id}/state/m.room.name", {"name": "bob's"}).status_code == 200


def test_v12_creator_has_infinite_power(alice, bob):
    room_id = create_room(alice, preset="public_chat", room_version="12")
    bob.post(f"{API}/rooms/{room_id}/join")
    assert_error(bob.put(f"{API}/rooms/{room_id}/state/m.room.name", {"name": "b"}), 403, "M_FORBIDDEN")
    assert alice.put(f"{API}/rooms/{room_id}/state/m.room.tombstone",
                     {"body": "gone", "replacement_room": "!x:test.local"}).status_code == 200


def test_non_members_are_refused(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    assert_error(bob.get(f"{API}/rooms/{room_id}/state"), 403, "M_FORBIDDEN")
    assert_error(bob.get(f"{API}/rooms/{room_id}/state/m.room.create"), 403, "M_FORBIDDEN")
    assert_error(bob.put(f"{API}/rooms/{room_id}/state/m.room.name", {"name": "x"}), 403, "M_FORBIDDEN")


def test_invited_users_cannot_read_state_yet(alice, bob):
    room_id = create_room(alice, invite=[bob.user_id])
    assert_error(bob.get(f"{API}/rooms/{room_id}/state"), 403, "M_FORBIDDEN")


def test_former_member_sees_the_state_when_they_left(alice, bob):
    room_id = create_room(alice, preset="public_chat", name="old")
    bob.post(f"{API}/rooms/{room_id}/join")
    bob.post(f"{API}/rooms/{room_id}/leave")
    alice.put(f"{API}/rooms/{room_id}/state/m.room.name", {"name": "new"})
    assert bob.get(f"{API}/rooms/{room_id}/state/m.room.name").json_body == {"name": "old"}
    members = {e["state_key"]: e["content"]["membership"] for e in bob.get(f"{API}/rooms/{room_id}/state").json_body
               if e["type"] == "m.room.member"}
    assert members[bob.user_id] == "leave"


def test_errors(alice):
    assert_error(alice.get(f"{API}/rooms/!nowhere:test.local/state"), 404, "M_NOT_FOUND")
    room_id = create_room(alice)
    assert_error(alice.get(f"{API}/rooms/{room_id}/state/m.room.nothing"), 404, "M_NOT_FOUND")
    assert_error(alice.get(f"{API}/rooms/{room_id}/state/m.room.create?format=xml"), 400, "M_INVALID_PARAM")
    assert_error(alice.request("PUT", f"{API}/rooms/{room_id}/state/m.room.name", raw=b"{"), 400, "M_NOT_JSON")
    assert_error(alice.request("POST", f"{API}/rooms/{room_id}/state/m.room.name", body={}), 405, "M_UNRECOGNIZED")
