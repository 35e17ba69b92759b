"""History visibility (modules/history_visibility.md) through /messages, /context and GET /event:
joined, shared, invited, world_readable, changes of the setting, membership at each event."""
from __future__ import annotations

import pytest

from tests.api.rooms.helpers import API, create_room, send
from tests.api.rooms.test_messages import bodies, messages
from tests.conftest import assert_error


def set_hv(client, room_id, value):
    resp = client.put(f"{API}/rooms/{room_id}/state/m.room.history_visibility", {"history_visibility": value})
    assert resp.status_code == 200, resp.json_body
    return resp.json_body["event_id"]


def msg(client, room_id, body):
    return send(client, room_id, {"msgtype": "m.text", "body": body}).json_body["event_id"]


def visible(client, room_id):
    resp = messages(client, room_id, dir="f", limit=1000)
    assert resp.status_code == 200, resp.json_body
    return bodies(resp)


@pytest.mark.parametrize("version", ["1", "10", "11", "12"])
def test_joined_hides_earlier_messages_shared_shows_them(alice, bob, version):
    room_id = create_room(alice, preset="public_chat", room_version=version)
    set_hv(alice, room_id, "joined")
    early = msg(alice, room_id, "early")
    assert bob.post(f"{API}/rooms/{room_id}/join").status_code == 200
    msg(alice, room_id, "late")
    assert visible(bob, room_id) == ["late"]
    assert_error(bob.get(f"{API}/rooms/{room_id}/event/{early}"), 404, "M_NOT_FOUND")
    assert_error(bob.get(f"{API}/rooms/{room_id}/context/{early}"), 404, "M_NOT_FOUND")
    assert visible(alice, room_id) == ["early", "late"]

    # The setting applies at each event: switching to shared does not reveal what was sent under joined.
    set_hv(alice, room_id, "shared")
    msg(alice, room_id, "shared-era")
    assert visible(bob, room_id) == ["late", "shared-era"]


def test_shared_shows_history_to_a_newly_joined_member(alice, bob):
    room_id = create_room(alice, preset="public_chat")  # shared by the preset
    early = msg(alice, room_id, "early")
    assert_error(bob.get(f"{API}/rooms/{room_id}/event/{early}"), 404, "M_NOT_FOUND")
    assert bob.post(f"{API}/rooms/{room_id}/join").status_code == 200
    assert visible(bob, room_id) == ["early"]
    assert bob.get(f"{API}/rooms/{room_id}/event/{early}").json_body["content"]["body"] == "early"


def test_shared_history_stops_at_departure(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    msg(alice, room_id, "one")
    assert bob.post(f"{API}/rooms/{room_id}/join").status_code == 200
    assert bob.post(f"{API}/rooms/{room_id}/leave").status_code == 200
    later = msg(alice, room_id, "two")
    assert visible(bob, room_id) == ["one"]
    assert_error(bob.get(f"{API}/rooms/{room_id}/event/{later}"), 404, "M_NOT_FOUND")
    # Rejoining: shared history includes what was sent while away.
    assert bob.post(f"{API}/rooms/{room_id}/join").status_code == 200
    assert visible(bob, room_id) == ["one", "two"]


def test_invited_visibility_from_the_invite(alice, bob):
    room_id = create_room(alice, preset="private_chat")
    set_hv(alice, room_id, "invited")
    msg(alice, room_id, "before invite")
    assert alice.post(f"{API}/rooms/{room_id}/invite", {"user_id": bob.user_id}).status_code == 200
    msg(alice, room_id, "after invite")
    assert bob.post(f"{API}/rooms/{room_id}/join").status_code == 200
    msg(alice, room_id, "after join")
    assert visible(bob, room_id) == ["after invite", "after join"]


def test_joined_visibility_own_membership_events_visible(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    set_hv(alice, room_id, "joined")
    topic = alice.put(f"{API}/rooms/{room_id}/state/m.room.topic", {"topic": "t"}).json_body["event_id"]
    assert bob.post(f"{API}/rooms/{room_id}/join").status_code == 200
    chunk = messages(bob, room_id, dir="f", limit=100).json_body["chunk"]
    own = [e for e in chunk if e["type"] == "m.room.member" and e["state_key"] == bob.user_id]
    assert [e["content"]["membership"] for e in own] == ["join"]
    # Sent under `joined` before bob joined: hidden. (The creation events were `shared`: shown.)
    assert topic not in [e["event_id"] for e in chunk]
    assert any(e["type"] == "m.room.create" for e in chunk)


def test_history_visibility_event_visible_from_either_side(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    set_hv(alice, room_id, "joined")
    msg(alice, room_id, "hidden")
    to_wr = set_hv(alice, room_id, "world_readable")
    msg(alice, room_id, "public")
    back = set_hv(alice, room_id, "joined")
    msg(alice, room_id, "hidden again")
    # bob joins only now: of the history he sees what was world readable, including both changes
    # (the first is allowed by the state after it, the second by the state before it).
    assert bob.post(f"{API}/rooms/{room_id}/join").status_code == 200
    resp = messages(bob, room_id, dir="f", limit=100)
    assert resp.status_code == 200
    ids = [e["event_id"] for e in resp.json_body["chunk"]]
    assert to_wr in ids and back in ids
    assert bodies(resp) == ["public"]


def test_world_readable_readable_by_non_members(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    set_hv(alice, room_id, "world_readable")
    ev = msg(alice, room_id, "for everyone")
    assert bob.get(f"{API}/rooms/{room_id}/event/{ev}").json_body["content"]["body"] == "for everyone"
    ctx = bob.get(f"{API}/rooms/{room_id}/context/{ev}")
    assert ctx.status_code == 200 and ctx.json_body["event"]["event_id"] == ev
    assert visible(bob, room_id) == ["for everyone"]
    # Once it is no longer world readable, non-members are refused.
    set_hv(alice, room_id, "shared")
    assert_error(messages(bob, room_id, dir="b"), 403, "M_FORBIDDEN")
    assert_error(bob.get(f"{API}/rooms/{room_id}/event/{ev}"), 404, "M_NOT_FOUND")
