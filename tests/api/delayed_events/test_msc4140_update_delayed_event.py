"""POST /_matrix/client/unstable/org.matrix.msc4140/delayed_events/{delayId} with `{"action": ...}`:
cancel, restart (the timer runs again from now), send (now); errors."""
from __future__ import annotations

import pytest

from apps.delayed_events import handlers
from apps.delayed_events.models import DelayedEvent
from hsproject.config.sections import RateLimit
from tests.api.delayed_events.helpers import (
    DELAYED, act, bodies, due_at, pending, pending_one, schedule_message, schedule_state, sweep, timeline,
)
from tests.api.rooms.helpers import API, create_room
from tests.conftest import assert_error


def test_cancel(alice):
    room_id = create_room(alice)
    delay_id = schedule_message(alice, room_id, 1000, "never").json_body["delay_id"]
    due = due_at(alice, delay_id)
    resp = act(alice, delay_id, "cancel")
    assert resp.status_code == 200 and resp.json_body == {}
    assert pending(alice) == []
    assert sweep(due + 1)["sent"] == 0
    assert "never" not in bodies(alice, room_id)
    assert DelayedEvent.objects.get(delay_id=delay_id).status == DelayedEvent.CANCELLED
    # Cancelled is final: no action applies any more.
    for action in ("cancel", "restart", "send"):
        assert_error(act(alice, delay_id, action), 404, "M_NOT_FOUND")


def test_send_now(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    bob.post(f"{API}/rooms/{room_id}/join")
    delay_id = schedule_message(alice, room_id, 3_600_000, "right away").json_body["delay_id"]
    resp = act(alice, delay_id, "send")
    assert resp.status_code == 200 and resp.json_body == {}
    [event] = [e for e in timeline(bob, room_id) if e["content"].get("body") == "right away"]
    assert event["sender"] == alice.user_id
    assert pending(alice) == []
    assert DelayedEvent.objects.get(delay_id=delay_id).event_id == event["event_id"]
    assert_error(act(alice, delay_id, "send"), 404, "M_NOT_FOUND")


def test_send_now_of_a_state_event(alice):
    room_id = create_room(alice)
    delay_id = schedule_state(alice, room_id, "m.room.topic", "", {"topic": "now"}, 60_000).json_body["delay_id"]
    assert act(alice, delay_id, "send").status_code == 200
    assert alice.get(f"{API}/rooms/{room_id}/state/m.room.topic").json_body == {"topic": "now"}


def test_restart_runs_the_timer_again_from_now(alice):
    room_id = create_room(alice)
    delay_id = schedule_message(alice, room_id, 60_000, "restarted").json_body["delay_id"]
    before = pending_one(alice, delay_id)
    assert act(alice, delay_id, "restart").status_code == 200
    after = pending_one(alice, delay_id)
    assert after["delay"] == 60_000 and after["running_since"] >= before["running_since"]
    due = after["running_since"] + after["delay"]
    assert sweep(due - 1)["sent"] == 0
    assert sweep(due)["sent"] == 1
    assert "restarted" in bodies(alice, room_id)


def test_restart_on_a_simulated_clock(alice):
    """The handler with the clock given: a restart at t+50s of a 60s delay moves the due time to t+110s."""
    room_id = create_room(alice)
    delay_id = schedule_message(alice, room_id, 60_000, "heartbeat").json_body["delay_id"]
    t0 = pending_one(alice, delay_id)["running_since"]
    handlers.update(alice.user_id, delay_id, "restart", now_ms=t0 + 50_000)
    assert pending_one(alice, delay_id)["running_since"] == t0 + 50_000
    assert sweep(t0 + 60_000)["sent"] == 0
    assert sweep(t0 + 109_999)["sent"] == 0
    assert sweep(t0 + 110_000)["sent"] == 1


def test_unknown_delay_id_and_another_users_delay_id_are_not_found(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    bob.post(f"{API}/rooms/{room_id}/join")
    alices = schedule_message(alice, room_id, 60_000, "alice's").json_body["delay_id"]
    for action in ("cancel", "restart", "send"):
        assert_error(act(alice, "syd_doesnotexist", action), 404, "M_NOT_FOUND")
        assert_error(act(bob, alices, action), 404, "M_NOT_FOUND")
    assert [e["delay_id"] for e in pending(alice)] == [alices]
    assert "alice's" not in bodies(alice, room_id)


@pytest.mark.parametrize("body, errcode", [
    ({"action": "explode"}, "M_INVALID_PARAM"),
    ({"action": 1}, "M_INVALID_PARAM"),
    ({"action": ["send"]}, "M_INVALID_PARAM"),
    ({}, "M_MISSING_PARAM"),
    ({"action": None}, "M_MISSING_PARAM"),
])
def test_bad_action(alice, body, errcode):
    room_id = create_room(alice)
    delay_id = schedule_message(alice, room_id, 60_000).json_body["delay_id"]
    assert_error(alice.post(f"{DELAYED}/{delay_id}", body), 400, errcode)
    assert [e["delay_id"] for e in pending(alice)] == [delay_id]


def test_body_must_be_json_and_a_token_is_needed(mx, alice):
    assert_error(alice.post(f"{DELAYED}/syd_x", raw=b"not json"), 400, "M_NOT_JSON")
    assert_error(mx.post(f"{DELAYED}/syd_x", {"action": "cancel"}, token=None), 401, "M_MISSING_TOKEN")
    assert_error(alice.get(f"{DELAYED}/syd_x"), 405, "M_UNRECOGNIZED")


def test_management_is_rate_limited(alice, monkeypatch):
    room_id = create_room(alice)
    delay_id = schedule_message(alice, room_id, 60_000).json_body["delay_id"]
    monkeypatch.setattr(handlers, "MGMT_RATE_LIMIT", RateLimit(0.001, 3))
    for _ in range(3):
        assert act(alice, delay_id, "restart").status_code == 200
    assert_error(act(alice, delay_id, "restart"), 429, "M_LIMIT_EXCEEDED")


def test_a_failed_send_now_answers_with_the_error_and_is_recorded(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    bob.post(f"{API}/rooms/{room_id}/join")
    delay_id = schedule_message(bob, room_id, 60_000, "too late").json_body["delay_id"]
    assert bob.post(f"{API}/rooms/{room_id}/leave").status_code == 200
    assert_error(act(bob, delay_id, "send"), 403, "M_FORBIDDEN")
    row = DelayedEvent.objects.get(delay_id=delay_id)
    assert row.status == DelayedEvent.FAILED and "M_FORBIDDEN" in row.detail
    assert pending(bob) == []
    assert "too late" not in bodies(alice, room_id)
