"""POST /rooms/{roomId}/join, /join/{roomIdOrAlias}, /rooms/{roomId}/invite, /rooms/{roomId}/leave and
GET /joined_rooms."""
from __future__ import annotations

import pytest

from tests.conftest import assert_error

from tests.api.rooms.helpers import API, create_room


def members(client, room_id):
    return {e["state_key"]: e["content"] for e in client.get(f"{API}/rooms/{room_id}/state").json_body
            if e["type"] == "m.room.member"}


@pytest.mark.parametrize("version", ["10", "11", "12"])
def test_invite_then_join(alice, bob, version):
    room_id = create_room(alice, room_version=version)
    assert_error(bob.post(f"{API}/rooms/{room_id}/join"), 403, "M_FORBIDDEN")  # invite-only
    assert alice.post(f"{API}/rooms/{room_id}/invite", {"user_id": bob.user_id}).json_body == {}
    assert members(alice, room_id)[bob.user_id]["membership"] == "invite"
    assert bob.post(f"{API}/join/{room_id}").json_body == {"room_id": room_id}
    assert members(alice, room_id)[bob.user_id]["membership"] == "join"
    assert room_id in bob.get(f"{API}/joined_rooms").json_body["joined_rooms"]


def test_public_room_join_carries_the_profile(alice, bob):
    bob.put(f"{API}/profile/{bob.user_id}/displayname", {"displayname": "Bobby"})
    room_id = create_room(alice, preset="public_chat")
    bob.post(f"{API}/rooms/{room_id}/join")
    assert members(alice, room_id)[bob.user_id] == {"membership": "join", "displayname": "Bobby"}
    # Joining again with an unchanged profile sends nothing new.
    before = alice.get(f"{API}/rooms/{room_id}/state/m.room.member/{bob.user_id}?format=event").json_body
    bob.post(f"{API}/rooms/{room_id}/join")
    after = alice.get(f"{API}/rooms/{room_id}/state/m.room.member/{bob.user_id}?format=event").json_body
    assert before["event_id"] == after["event_id"]


def test_leave_and_reject_invite(alice, bob):
    room_id = create_room(alice, invite=[bob.user_id])
    assert bob.post(f"{API}/rooms/{room_id}/leave", {"reason": "no thanks"}).json_body == {}
    assert members(alice, room_id)[bob.user_id] == {"membership": "leave", "reason": "no thanks"}
    # Leaving again is a no-op; a stranger cannot leave.
    assert bob.post(f"{API}/rooms/{room_id}/leave").status_code == 200
    other = create_room(alice)
    assert_error(bob.post(f"{API}/rooms/{other}/leave"), 403, "M_FORBIDDEN")


def test_joined_rooms(alice, bob):
    assert alice.get(f"{API}/joined_rooms").json_body == {"joined_rooms": []}
    r1 = create_room(alice)
    r2 = create_room(alice, preset="public_chat")
    assert set(alice.get(f"{API}/joined_rooms").json_body["joined_rooms"]) == {r1, r2}
    alice.post(f"{API}/rooms/{r1}/leave")
    assert alice.get(f"{API}/joined_rooms").json_body["joined_rooms"] == [r2]
    assert bob.get(f"{API}/joined_rooms").json_body["joined_rooms"] == []


def test_invite_rules(alice, bob):
    room_id = create_room(alice, preset="public_chat", room_version="11")
    bob.post(f"{API}/rooms/{room_id}/join")
    # public_chat: inviting needs power level 50.
    from tests.conftest import MatrixClient

    carol = MatrixClient()
    carol.register("carol")
    assert_error(bob.post(f"{API}/rooms/{room_id}/invite", {"user_id": carol.user_id}), 403, "M_FORBIDDEN")
    assert_error(alice.post(f"{API}/rooms/{room_id}/invite", {"user_id": bob.user_id}), 403, "M_FORBIDDEN")
    assert_error(alice.post(f"{API}/rooms/{room_id}/invite", {"user_id": "@ghost:test.local"}), 404, "M_NOT_FOUND")
    assert_error(alice.post(f"{API}/rooms/{room_id}/invite", {}), 400, "M_MISSING_PARAM")
    assert_error(alice.post(f"{API}/rooms/{room_id}/invite", {"user_id": "nope"}), 400, "M_INVALID_PARAM")
    assert alice.post(f"{API}/rooms/{room_id}/invite", {"user_id": carol.user_id, "reason": "hi"}).status_code == 200


def test_join_errors(alice):
    assert_error(alice.post(f"{API}/rooms/!nowhere:test.local/join"), 404, "M_NOT_FOUND")
    assert_error(alice.post(f"{API}/join/!nowhere:test.local"), 404, "M_NOT_FOUND")
    assert_error(alice.post(f"{API}/join/nonsense"), 400, "M_INVALID_PARAM")
