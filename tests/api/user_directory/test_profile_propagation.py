"""A displayname or avatar_url change is sent as a new m.room.member event (membership join) in every
room the user is joined to, and only there; the rooms' other members see it in /sync."""
from __future__ import annotations

import pytest

from tests.api.rooms.helpers import create_room
from tests.api.sync.helpers import API, sync

pytestmark = pytest.mark.django_db(transaction=True)


def _member(client, room_id, user_id):
    resp = client.get(f"{API}/rooms/{room_id}/state/m.room.member/{user_id}")
    assert resp.status_code == 200, resp.json_body
    return resp.json_body


def test_profile_changes_reach_every_joined_room(alice, bob):
    rooms = [create_room(alice, preset="public_chat") for _ in range(2)]
    for r in rooms:
        assert bob.post(f"{API}/rooms/{r}/join", {}).status_code == 200
    left = create_room(alice, preset="public_chat")
    bob.post(f"{API}/rooms/{left}/join", {})
    bob.post(f"{API}/rooms/{left}/leave", {})
    since = sync(alice)["next_batch"]

    assert bob.put(f"{API}/profile/{bob.user_id}/displayname", {"displayname": "Bobby"}).status_code == 200
    assert bob.put(f"{API}/profile/{bob.user_id}/avatar_url", {"avatar_url": "mxc://test.local/abc"}).status_code == 200
    for r in rooms:
        assert _member(alice, r, bob.user_id) == {"membership": "join", "displayname": "Bobby",
                                                  "avatar_url": "mxc://test.local/abc"}
    assert _member(alice, left, bob.user_id)["membership"] == "leave"
    body = sync(alice, since)
    for r in rooms:
        members = [e for e in body["rooms"]["join"][r]["timeline"]["events"]
                   if e["type"] == "m.room.member" and e["state_key"] == bob.user_id]
        assert [e["content"].get("displayname") for e in members] == ["Bobby", "Bobby"]
    assert left not in body["rooms"]["join"]

    # Removing the avatar removes it from the member events.
    assert bob.delete(f"{API}/profile/{bob.user_id}/avatar_url").status_code == 200
    assert _member(alice, rooms[0], bob.user_id) == {"membership": "join", "displayname": "Bobby"}


def test_setting_the_same_name_sends_nothing(alice):
    room = create_room(alice)
    alice.put(f"{API}/profile/{alice.user_id}/displayname", {"displayname": "Al"})
    since = sync(alice)["next_batch"]
    alice.put(f"{API}/profile/{alice.user_id}/displayname", {"displayname": "Al"})
    assert room not in sync(alice, since)["rooms"]["join"]
