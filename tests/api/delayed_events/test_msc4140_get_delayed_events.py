"""GET /_matrix/client/unstable/org.matrix.msc4140/delayed_events: the user's pending delayed events, in
Synapse's shape; nobody else's; nothing once sent or cancelled."""
from __future__ import annotations

from apps.delayed_events import handlers
from hsproject.config.sections import RateLimit
from tests.api.delayed_events.helpers import (
    DELAYED, act, due_at, pending, schedule_message, schedule_state, sweep,
)
from tests.api.rooms.helpers import create_room
from tests.conftest import assert_error


def test_listing_shows_the_pending_events_of_the_user(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    bob.post(f"/_matrix/client/v3/rooms/{room_id}/join")
    assert pending(alice) == []
    msg = schedule_message(alice, room_id, 3000, "hi").json_body["delay_id"]
    st = schedule_state(alice, room_id, "org.example.call", alice.user_id, {"on": False}, 7000).json_body["delay_id"]
    bobs = schedule_message(bob, room_id, 1000, "bob's").json_body["delay_id"]

    entries = {e["delay_id"]: e for e in pending(alice)}
    assert set(entries) == {msg, st}
    m = entries[msg]
    assert set(m) == {"delay_id", "room_id", "type", "delay", "running_since", "content"}  # no state_key
    assert (m["room_id"], m["type"], m["delay"], m["content"]) == (
        room_id, "m.room.message", 3000, {"msgtype": "m.text", "body": "hi"})
    assert isinstance(m["running_since"], int) and m["running_since"] > 1_600_000_000_000
    s = entries[st]
    assert (s["type"], s["state_key"], s["delay"], s["content"]) == (
        "org.example.call", alice.user_id, 7000, {"on": False})
    assert [e["delay_id"] for e in pending(bob)] == [bobs]


def test_sent_and_cancelled_events_leave_the_listing(alice):
    room_id = create_room(alice)
    sent = schedule_message(alice, room_id, 10).json_body["delay_id"]
    cancelled = schedule_message(alice, room_id, 10).json_body["delay_id"]
    kept = schedule_message(alice, room_id, 60_000).json_body["delay_id"]
    assert act(alice, cancelled, "cancel").status_code == 200
    sweep(due_at(alice, sent))
    assert [e["delay_id"] for e in pending(alice)] == [kept]


def test_listing_needs_a_token_and_is_rate_limited(mx, alice, monkeypatch):
    assert_error(mx.get(DELAYED, token=None), 401, "M_MISSING_TOKEN")
    monkeypatch.setattr(handlers, "MGMT_RATE_LIMIT", RateLimit(0.001, 2))
    assert alice.get(DELAYED).status_code == 200
    assert alice.get(DELAYED).status_code == 200
    body = assert_error(alice.get(DELAYED), 429, "M_LIMIT_EXCEEDED")
    assert body["retry_after_ms"] > 0


def test_other_methods_are_unrecognized(alice):
    assert_error(alice.post(DELAYED, {}), 405, "M_UNRECOGNIZED")
