"""m.ignored_user_list: validated on write; non-state events of ignored users are left out of /sync
timelines, /messages and /context; their invites are not sent; state events still are."""
from __future__ import annotations

import pytest

from tests.api.rooms.helpers import create_room, send
from tests.api.sync.helpers import API, sync
from tests.conftest import assert_error

pytestmark = pytest.mark.django_db(transaction=True)


def _ignore(client, *user_ids):
    resp = client.put(f"{API}/user/{client.user_id}/account_data/m.ignored_user_list",
                      {"ignored_users": {u: {} for u in user_ids}})
    assert resp.status_code == 200, resp.json_body


def _shared_room(alice, bob) -> str:
    room_id = create_room(alice, preset="public_chat", power_level_content_override={"state_default": 0})
    assert bob.post(f"{API}/rooms/{room_id}/join", {}).status_code == 200
    return room_id


@pytest.mark.parametrize("content", [
    {}, {"ignored_users": []}, {"ignored_users": {"notauser": {}}}, {"ignored_users": {"@bob:test.local": 1}},
])
def test_the_list_is_validated(alice, content):
    assert_error(alice.put(f"{API}/user/{alice.user_id}/account_data/m.ignored_user_list", content),
                 400, "M_BAD_JSON")


def test_sync_drops_ignored_messages_but_keeps_state(alice, bob):
    room_id = _shared_room(alice, bob)
    since = sync(alice)["next_batch"]
    _ignore(alice, bob.user_id)
    send(bob, room_id, {"msgtype": "m.text", "body": "from bob"})
    send(alice, room_id, {"msgtype": "m.text", "body": "from alice"})
    assert bob.put(f"{API}/rooms/{room_id}/state/org.example.state/", {"by": "bob"}).status_code == 200
    body = sync(alice, since)
    events = body["rooms"]["join"][room_id]["timeline"]["events"]
    assert [e["content"].get("body") for e in events if e["type"] == "m.room.message"] == ["from alice"]
    assert [e["sender"] for e in events if e["type"] == "org.example.state"] == [bob.user_id]
    # The list arrived in the same response.
    assert {e["type"] for e in body["account_data"]["events"]} == {"m.ignored_user_list"}
    # Initial syncs too; and bob still sees his own messages.
    initial = sync(alice)["rooms"]["join"][room_id]["timeline"]["events"]
    assert all(e["sender"] != bob.user_id for e in initial if e["type"] == "m.room.message")
    assert any(e["content"].get("body") == "from bob" for e in sync(bob)["rooms"]["join"][room_id]["timeline"]["events"])


def test_unignoring_resumes_delivery(alice, bob):
    room_id = _shared_room(alice, bob)
    _ignore(alice, bob.user_id)
    send(bob, room_id, {"msgtype": "m.text", "body": "hidden"})
    since = sync(alice)["next_batch"]
    _ignore(alice)
    send(bob, room_id, {"msgtype": "m.text", "body": "shown"})
    events = sync(alice, since)["rooms"]["join"][room_id]["timeline"]["events"]
    assert [e["content"].get("body") for e in events if e["type"] == "m.room.message"] == ["shown"]


def test_messages_and_context_drop_ignored_messages(alice, bob):
    room_id = _shared_room(alice, bob)
    send(bob, room_id, {"msgtype": "m.text", "body": "b1"})
    anchor = send(alice, room_id, {"msgtype": "m.text", "body": "a1"}).json_body["event_id"]
    send(bob, room_id, {"msgtype": "m.text", "body": "b2"})
    _ignore(alice, bob.user_id)
    chunk = alice.get(f"{API}/rooms/{room_id}/messages?dir=b&limit=50").json_body["chunk"]
    bodies = [e["content"].get("body") for e in chunk if e["type"] == "m.room.message"]
    assert bodies == ["a1"]
    assert any(e["type"] == "m.room.member" and e["sender"] == bob.user_id for e in chunk)  # state stays
    ctx = alice.get(f"{API}/rooms/{room_id}/context/{anchor}?limit=10").json_body
    around = ctx["events_before"] + ctx["events_after"]
    assert not [e for e in around if e["type"] == "m.room.message" and e["sender"] == bob.user_id]
    # Bob's view is unchanged.
    chunk = bob.get(f"{API}/rooms/{room_id}/messages?dir=b&limit=50").json_body["chunk"]
    assert {"b1", "b2", "a1"} <= {e["content"].get("body") for e in chunk}


def test_invites_from_ignored_users_are_not_sent(alice, bob):
    _ignore(alice, bob.user_id)
    since = sync(alice)["next_batch"]
    room_id = create_room(bob)
    assert bob.post(f"{API}/rooms/{room_id}/invite", {"user_id": alice.user_id}).status_code == 200
    assert room_id not in sync(alice, since)["rooms"]["invite"]
    assert room_id not in sync(alice)["rooms"]["invite"]
    _ignore(alice)
    assert room_id in sync(alice)["rooms"]["invite"]
