"""PUT /rooms/{roomId}/send/... and PUT /rooms/{roomId}/state/... with `org.matrix.msc4140.delay`: the
event is scheduled (`{"delay_id"}`), not sent, and the sweep sends it as its user once it is due; the
errors of scheduling as Synapse gives them."""
from __future__ import annotations

import pytest

from apps.delayed_events.models import DelayedEvent
from tests.api.delayed_events.helpers import (
    MAX_DELAY_MS, bodies, due_at, pending, schedule_message, schedule_state, sweep, timeline,
)
from tests.api.rooms.helpers import API, create_room
from tests.conftest import assert_error


def test_a_delayed_message_is_sent_by_the_sweep_once_due(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    assert bob.post(f"{API}/rooms/{room_id}/join").status_code == 200
    resp = schedule_message(alice, room_id, 5000, "from the past")
    assert resp.status_code == 200, resp.json_body
    assert set(resp.json_body) == {"delay_id"}
    delay_id = resp.json_body["delay_id"]
    assert "from the past" not in bodies(bob, room_id)

    due = due_at(alice, delay_id)
    assert sweep(due - 1)["sent"] == 0
    assert "from the past" not in bodies(bob, room_id)
    result = sweep(due)
    assert result["sent"] == 1 and result["next_send_ts"] is None

    [event] = [e for e in timeline(bob, room_id) if e["content"].get("body") == "from the past"]
    assert event["sender"] == alice.user_id and event["type"] == "m.room.message"
    assert pending(alice) == []
    row = DelayedEvent.objects.get(delay_id=delay_id)
    assert (row.status, row.event_id) == (DelayedEvent.SENT, event["event_id"])
    # Nothing more to send: the next sweep leaves the room alone.
    assert sweep(due + 60_000)["sent"] == 0
    assert bodies(bob, room_id).count("from the past") == 1


def test_a_delayed_state_event_is_sent_by_the_sweep(alice, bob):
    room_id = create_room(alice, preset="public_chat", name="before")
    resp = schedule_state(alice, room_id, "m.room.name", "", {"name": "after"}, 1000)
    assert resp.status_code == 200, resp.json_body
    delay_id = resp.json_body["delay_id"]
    assert alice.get(f"{API}/rooms/{room_id}/state/m.room.name").json_body == {"name": "before"}
    assert sweep(due_at(alice, delay_id))["sent"] == 1
    state = alice.get(f"{API}/rooms/{room_id}/state/m.room.name?format=event").json_body
    assert state["content"] == {"name": "after"} and state["sender"] == alice.user_id


def test_a_zero_delay_is_due_at_once(alice):
    room_id = create_room(alice)
    delay_id = schedule_message(alice, room_id, 0, "now-ish").json_body["delay_id"]
    entry = pending(alice)[0]
    assert entry["delay_id"] == delay_id and entry["delay"] == 0
    assert sweep(entry["running_since"])["sent"] == 1
    assert "now-ish" in bodies(alice, room_id)


def test_the_transaction_id_makes_scheduling_idempotent(alice):
    room_id = create_room(alice)
    first = schedule_message(alice, room_id, 1000, "once", txn_id="t1").json_body["delay_id"]
    again = schedule_message(alice, room_id, 1000, "once", txn_id="t1")
    assert again.status_code == 200 and again.json_body == {"delay_id": first}
    other = schedule_message(alice, room_id, 1000, "once", txn_id="t2").json_body["delay_id"]
    assert other != first
    assert sorted(e["delay_id"] for e in pending(alice)) == sorted([first, other])
    # After it was sent, the same transaction still names the same delayed event.
    sweep(due_at(alice, first) + 1000)
    assert schedule_message(alice, room_id, 1000, "once", txn_id="t1").json_body == {"delay_id": first}
    assert bodies(alice, room_id).count("once") == 2


def test_a_delayed_event_with_a_custom_type(alice):
    room_id = create_room(alice)
    delay_id = schedule_message(alice, room_id, 10, event_type="org.example.ping").json_body["delay_id"]
    sweep(due_at(alice, delay_id))
    assert [e["type"] for e in timeline(alice, room_id)][-1] == "org.example.ping"


# --- errors ------------------------------------------------------------------------------------------

def test_feature_off_is_refused_as_synapse_does(alice, settings):
    settings.HS = settings.HS.replace(max_event_delay_duration_ms=None)
    room_id = create_room(alice)
    for resp in (schedule_message(alice, room_id, 1000),
                 schedule_state(alice, room_id, "m.room.topic", "", {"topic": "t"}, 1000)):
        body = assert_error(resp, 400, "M_UNKNOWN")
        assert body["org.matrix.msc4140.errcode"] == "M_MAX_DELAY_UNSUPPORTED"
    assert DelayedEvent.objects.count() == 0
    # The body was not applied either.
    assert alice.get(f"{API}/rooms/{room_id}/state/m.room.topic").status_code == 404
    assert "later" not in bodies(alice, room_id)


def test_a_delay_over_the_maximum_is_refused_with_the_maximum(alice):
    room_id = create_room(alice)
    for delay in (MAX_DELAY_MS + 1, "9" * 40):
        body = assert_error(schedule_message(alice, room_id, delay), 400, "M_UNKNOWN")
        assert body["org.matrix.msc4140.errcode"] == "M_MAX_DELAY_EXCEEDED"
        assert body["org.matrix.msc4140.max_delay"] == MAX_DELAY_MS
    assert schedule_message(alice, room_id, MAX_DELAY_MS).status_code == 200


@pytest.mark.parametrize("delay", ["-1", "abc", "1.5", "", "1e3", " 5", "0x10"])
def test_a_delay_that_is_no_non_negative_integer_is_invalid(alice, delay):
    room_id = create_room(alice)
    assert_error(schedule_message(alice, room_id, delay), 400, "M_INVALID_PARAM")
    assert_error(schedule_state(alice, room_id, "m.room.topic", "", {"topic": "t"}, delay), 400, "M_INVALID_PARAM")
    assert DelayedEvent.objects.count() == 0


def test_a_user_who_may_not_send_is_told_when_scheduling(alice, bob):
    room_id = create_room(alice, preset="public_chat", room_version="11")
    # Not in the room.
    assert_error(schedule_message(bob, room_id, 1000), 403, "M_FORBIDDEN")
    assert bob.post(f"{API}/rooms/{room_id}/join").status_code == 200
    # In it, but without the power level for the room's name.
    assert_error(schedule_state(bob, room_id, "m.room.name", "", {"name": "bob's"}, 1000), 403, "M_FORBIDDEN")
    # A state key that is another user's ID.
    assert_error(schedule_state(bob, room_id, "org.example.s", alice.user_id, {}, 1000), 403, "M_FORBIDDEN")
    assert DelayedEvent.objects.count() == 0
    assert schedule_message(bob, room_id, 1000).status_code == 200


def test_unknown_room_and_malformed_requests(alice):
    assert_error(schedule_message(alice, "!nowhere:test.local", 1000), 404, "M_NOT_FOUND")
    room_id = create_room(alice)
    resp = alice.put(f"{API}/rooms/{room_id}/send/m.room.message/t?org.matrix.msc4140.delay=10", raw=b"[1]")
    assert_error(resp, 400, "M_BAD_JSON")
    assert_error(schedule_state(alice, room_id, "org.example.s", "k" * 300, {}, 10), 400, "M_BAD_JSON")
    too_big = schedule_message(alice, room_id, 10, "x" * 70_000)
    assert too_big.status_code in (400, 413) and too_big.json_body["errcode"] in ("M_TOO_LARGE", "M_BAD_JSON")
    assert DelayedEvent.objects.count() == 0


def test_scheduling_needs_a_token(mx, alice):
    room_id = create_room(alice)
    assert_error(schedule_message(mx, room_id, 1000), 401, "M_MISSING_TOKEN")
