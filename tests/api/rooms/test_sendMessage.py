"""PUT /rooms/{roomId}/send/{eventType}/{txnId} and GET /rooms/{roomId}/event/{eventId}."""
from __future__ import annotations

import pytest

from tests.conftest import MatrixClient, assert_error

from tests.api.rooms.helpers import API, create_room, send


@pytest.mark.parametrize("version", ["10", "11", "12"])
def test_alice_sends_and_invited_bob_reads_after_joining(alice, bob, version):
    room_id = create_room(alice, room_version=version, invite=[bob.user_id])
    resp = send(alice, room_id, {"msgtype": "m.text", "body": "hello bob"}, txn_id="t1")
    assert resp.status_code == 200, resp.json_body
    event_id = resp.json_body["event_id"]
    assert event_id.startswith("$")

    # Invited but not joined: not yet (spec: 404 for an event one may not read).
    assert_error(bob.get(f"{API}/rooms/{room_id}/event/{event_id}"), 404, "M_NOT_FOUND")
    assert bob.post(f"{API}/rooms/{room_id}/join").json_body == {"room_id": room_id}

    resp = bob.get(f"{API}/rooms/{room_id}/event/{event_id}")
    assert resp.status_code == 200, resp.json_body
    ev = resp.json_body
    assert ev["content"] == {"msgtype": "m.text", "body": "hello bob"}
    assert ev["sender"] == alice.user_id and ev["room_id"] == room_id and ev["type"] == "m.room.message"
    assert ev["event_id"] == event_id and "state_key" not in ev
    # transaction_id is for the sending device only.
    assert "transaction_id" not in ev["unsigned"]
    mine = alice.get(f"{API}/rooms/{room_id}/event/{event_id}").json_body
    assert mine["unsigned"]["transaction_id"] == "t1"


def test_txn_id_is_idempotent_per_device(alice):
    room_id = create_room(alice)
    first = send(alice, room_id, {"body": "once"}, txn_id="same").json_body["event_id"]
    again = send(alice, room_id, {"body": "once"}, txn_id="same").json_body["event_id"]
    assert first == again
    # Another device of the same user sending the same txn id sends a new event.
    other = MatrixClient()
    login = other.post(f"{API}/login", {"type": "m.login.password", "password": "correct horse battery",
                                         "identifier": {"type": "m.id.user", "user": "alice"}}, token=None)
    other.token = login.json_body["access_token"]
    assert send(other, room_id, {"body": "once"}, txn_id="same").json_body["event_id"] != first
    # So does the same device with another txn id.
    assert send(alice, room_id, {"body": "once"}, txn_id="other").json_body["event_id"] != first


def test_non_member_cannot_send_or_read(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    event_id = send(alice, room_id).json_body["event_id"]
    assert_error(send(bob, room_id), 403, "M_FORBIDDEN")
    assert_error(bob.get(f"{API}/rooms/{room_id}/event/{event_id}"), 404, "M_NOT_FOUND")


def test_unknown_room_and_event(alice):
    assert_error(send(alice, "!nowhere:test.local"), 404, "M_NOT_FOUND")
    room_id = create_room(alice)
    assert_error(alice.get(f"{API}/rooms/{room_id}/event/$nope"), 404, "M_NOT_FOUND")
    assert_error(alice.get(f"{API}/rooms/!nowhere:test.local/event/$nope"), 404, "M_NOT_FOUND")
    # An event of another room is not found through this one.
    other = create_room(alice)
    ev = send(alice, other).json_body["event_id"]
    assert_error(alice.get(f"{API}/rooms/{room_id}/event/{ev}"), 404, "M_NOT_FOUND")


def test_bad_bodies(alice):
    room_id = create_room(alice)
    path = f"{API}/rooms/{room_id}/send/m.room.message/t"
    assert_error(alice.request("PUT", path, raw=b"not json"), 400, "M_NOT_JSON")
    assert_error(alice.request("PUT", path, raw=b"[1,2]"), 400, "M_BAD_JSON")
    assert_error(alice.put(path, {"x": "y" * 70000}), 400, "M_BAD_JSON")  # over the 64 KiB event limit
    assert_error(alice.request("PUT", f"{API}/rooms/not-a-room/send/m.room.message/t", body={}), 400, "M_INVALID_PARAM")


def test_events_power_level_enforced(alice, bob):
    room_id = create_room(alice, preset="public_chat", room_version="11",
                          power_level_content_override={"events_default": 10})
    bob.post(f"{API}/rooms/{room_id}/join")
    assert_error(send(bob, room_id), 403, "M_FORBIDDEN")
    assert send(alice, room_id).status_code == 200


def test_former_member_reads_events_up_to_leaving(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    bob.post(f"{API}/rooms/{room_id}/join")
    before = send(alice, room_id).json_body["event_id"]
    assert bob.post(f"{API}/rooms/{room_id}/leave").status_code == 200
    after = send(alice, room_id).json_body["event_id"]
    assert bob.get(f"{API}/rooms/{room_id}/event/{before}").status_code == 200
    assert_error(bob.get(f"{API}/rooms/{room_id}/event/{after}"), 404, "M_NOT_FOUND")
