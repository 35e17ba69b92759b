"""The sending side (`background.send_delayed_events`): the auth rules again at sending time, a refused send
recorded and never retried, claims that keep two senders from sending one event twice, a sender that died
mid-send, and a state event that supersedes other users' delayed state events."""
from __future__ import annotations

import threading

import pytest
from django.db import connection

from apps.delayed_events import handlers, stores
from apps.delayed_events.models import DelayedEvent
from tests.api.delayed_events.helpers import (
    bodies, due_at, pending, schedule_message, schedule_state, sweep, timeline,
)
from tests.api.rooms.helpers import API, create_room, send
from tests.conftest import assert_error


def test_a_send_refused_at_sending_time_is_recorded_and_not_retried(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    bob.post(f"{API}/rooms/{room_id}/join")
    delay_id = schedule_message(bob, room_id, 1000, "bob was here").json_body["delay_id"]
    due = due_at(bob, delay_id)
    # Bob is banned before it falls due: the auth rules are applied when it is sent.
    assert alice.post(f"{API}/rooms/{room_id}/ban", {"user_id": bob.user_id}).status_code == 200
    result = sweep(due)
    assert (result["sent"], result["failed"], result["retrying"]) == (0, 1, 0)
    row = DelayedEvent.objects.get(delay_id=delay_id)
    assert row.status == DelayedEvent.FAILED and row.detail.startswith("M_FORBIDDEN")
    assert row.finalised_ts == due and row.event_id is None
    assert pending(bob) == []
    assert "bob was here" not in bodies(alice, room_id)
    # Never tried again.
    later = sweep(due + 3_600_000)
    assert later["failed"] == 0 and later["sent"] == 0
    assert DelayedEvent.objects.get(delay_id=delay_id).attempts == 0


def test_a_deactivated_users_delayed_event_fails(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    bob.post(f"{API}/rooms/{room_id}/join")
    delay_id = schedule_message(bob, room_id, 1000, "ghost").json_body["delay_id"]
    due = due_at(bob, delay_id)
    resp = bob.post("/_matrix/client/v3/account/deactivate",
                    {"auth": {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "bob"},
                              "password": "correct horse battery"}})
    assert resp.status_code == 200, resp.json_body
    sweep(due)
    row = DelayedEvent.objects.get(delay_id=delay_id)
    assert row.status in (DelayedEvent.FAILED, DelayedEvent.CANCELLED)
    assert "ghost" not in bodies(alice, room_id)


def test_due_events_are_sent_in_due_order_and_the_next_due_time_is_reported(alice):
    room_id = create_room(alice)
    ids = [schedule_message(alice, room_id, delay, f"m{delay}").json_body["delay_id"] for delay in (3000, 1000, 2000)]
    t0 = min(e["running_since"] for e in pending(alice))
    far = schedule_message(alice, room_id, 600_000, "far").json_body["delay_id"]
    result = sweep(t0 + 10_000)
    assert result["sent"] == 3 and result["next_send_ts"] == due_at(alice, far)
    assert [b for b in bodies(alice, room_id) if b.startswith("m")] == ["m1000", "m2000", "m3000"]
    assert all(DelayedEvent.objects.get(delay_id=i).status == DelayedEvent.SENT for i in ids)


def test_a_full_batch_asks_for_another_sweep(alice):
    room_id = create_room(alice)
    for i in range(3):
        schedule_message(alice, room_id, 0, f"b{i}")
    now = max(e["running_since"] for e in pending(alice))
    first = handlers.send_due(now, limit=2)
    assert first["sent"] == 2 and first["more"] is True
    second = handlers.send_due(now, limit=2)
    assert second["sent"] == 1 and second["more"] is False


def test_a_claimed_row_is_not_claimed_again(alice):
    room_id = create_room(alice)
    delay_id = schedule_message(alice, room_id, 0, "once").json_body["delay_id"]
    now = due_at(alice, delay_id)
    row = stores.claim_next_due(now)
    assert row is not None and row.delay_id == delay_id and row.status == DelayedEvent.SENDING
    assert stores.claim_next_due(now) is None  # another sweep finds nothing to take
    assert sweep(now)["sent"] == 0
    # Nor can its user act on it while it is being sent.
    for action in ("cancel", "restart", "send"):
        assert_error(alice.post(f"/_matrix/client/unstable/org.matrix.msc4140/delayed_events/{delay_id}",
                                {"action": action}), 404, "M_NOT_FOUND")


def test_a_sender_that_died_after_persisting_does_not_make_a_duplicate(alice):
    """The claim goes stale (the worker was killed after the event was persisted, before the row was
    marked sent): a later sweep takes the row again and finds the event by its transaction ID."""
    room_id = create_room(alice)
    delay_id = schedule_message(alice, room_id, 0, "exactly once").json_body["delay_id"]
    now = due_at(alice, delay_id)
    row = stores.claim_next_due(now)
    event_id = handlers._send_as_user(row)  # the event is in the room; the row still says `sending`
    # Before the lease runs out nobody touches it ...
    assert sweep(now + handlers.SEND_LEASE_MS - 1)["released"] == 0
    # ... after it, the row is due again, and sending it finds the event already sent.
    result = sweep(now + handlers.SEND_LEASE_MS + 1)
    assert result["released"] == 1 and result["sent"] == 1
    row = DelayedEvent.objects.get(delay_id=delay_id)
    assert (row.status, row.event_id, row.attempts) == (DelayedEvent.SENT, event_id, 1)
    assert bodies(alice, room_id).count("exactly once") == 1


def test_a_sender_that_died_before_persisting_is_replaced(alice):
    room_id = create_room(alice)
    delay_id = schedule_message(alice, room_id, 0, "late but sent").json_body["delay_id"]
    now = due_at(alice, delay_id)
    assert stores.claim_next_due(now) is not None  # and then the worker vanished
    result = sweep(now + handlers.SEND_LEASE_MS + 1)
    assert result["released"] == 1 and result["sent"] == 1
    assert bodies(alice, room_id).count("late but sent") == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_sweeps_send_each_event_once(client_factory):
    from tests.conftest import MatrixClient

    alice = MatrixClient()
    alice.register("alice")
    room_id = create_room(alice)
    for i in range(8):
        schedule_message(alice, room_id, 0, f"c{i}")
    now = max(e["running_since"] for e in pending(alice))
    results, errors = [], []

    def run():
        try:
            results.append(handlers.send_due(now))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sum(r["sent"] for r in results) == 8
    sent = sorted(b for b in bodies(alice, room_id) if b and b.startswith("c"))
    assert sent == sorted(f"c{i}" for i in range(8))
    assert DelayedEvent.objects.filter(status=DelayedEvent.SENT).count() == 8


# --- a state event supersedes other users' delayed state events --------------------------------------

def _call_room(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    assert bob.post(f"{API}/rooms/{room_id}/join").status_code == 200
    # Let everyone set org.example.call state.
    pl = alice.get(f"{API}/rooms/{room_id}/state/m.room.power_levels").json_body
    pl.setdefault("events", {})["org.example.call"] = 0
    assert alice.put(f"{API}/rooms/{room_id}/state/m.room.power_levels", pl).status_code == 200
    return room_id


def test_someone_elses_state_event_cancels_a_delayed_state_event(alice, bob, django_capture_on_commit_callbacks):
    room_id = _call_room(alice, bob)
    delay_id = schedule_state(alice, room_id, "org.example.call", "shared", {"by": "alice"}, 5000).json_body["delay_id"]
    other_key = schedule_state(alice, room_id, "org.example.call", "other", {"by": "alice"}, 5000).json_body["delay_id"]
    due = max(due_at(alice, delay_id), due_at(alice, other_key))
    with django_capture_on_commit_callbacks(execute=True):
        assert bob.put(f"{API}/rooms/{room_id}/state/org.example.call/shared", {"by": "bob"}).status_code == 200
    assert [e["delay_id"] for e in pending(alice)] == [other_key]
    row = DelayedEvent.objects.get(delay_id=delay_id)
    assert row.status == DelayedEvent.CANCELLED and "superseded" in row.detail
    sweep(due)
    assert alice.get(f"{API}/rooms/{room_id}/state/org.example.call/shared").json_body == {"by": "bob"}
    assert alice.get(f"{API}/rooms/{room_id}/state/org.example.call/other").json_body == {"by": "alice"}


def test_the_senders_own_state_event_does_not_cancel_it(alice, bob, django_capture_on_commit_callbacks):
    """The MSC4140 heartbeat pattern: schedule a delayed "left", then set "joined"; the delayed event stays."""
    room_id = _call_room(alice, bob)
    delay_id = schedule_state(alice, room_id, "org.example.call", "k", {}, 5000).json_body["delay_id"]
    due = due_at(alice, delay_id)
    with django_capture_on_commit_callbacks(execute=True):
        assert alice.put(f"{API}/rooms/{room_id}/state/org.example.call/k", {"joined": True}).status_code == 200
    assert [e["delay_id"] for e in pending(alice)] == [delay_id]
    assert sweep(due)["sent"] == 1
    assert alice.get(f"{API}/rooms/{room_id}/state/org.example.call/k").json_body == {}


def test_a_sent_delayed_state_event_supersedes_others_and_messages_supersede_nothing(
        alice, bob, django_capture_on_commit_callbacks):
    room_id = _call_room(alice, bob)
    alices = schedule_state(alice, room_id, "org.example.call", "k", {"by": "alice"}, 1000).json_body["delay_id"]
    bobs = schedule_state(bob, room_id, "org.example.call", "k", {"by": "bob"}, 60_000).json_body["delay_id"]
    bobs_message = schedule_message(bob, room_id, 60_000, "still coming").json_body["delay_id"]
    with django_capture_on_commit_callbacks(execute=True):
        send(alice, room_id, {"msgtype": "m.text", "body": "a message"})
        assert sweep(due_at(alice, alices))["sent"] == 1
    assert DelayedEvent.objects.get(delay_id=bobs).status == DelayedEvent.CANCELLED
    assert [e["delay_id"] for e in pending(bob)] == [bobs_message]
    state = alice.get(f"{API}/rooms/{room_id}/state/org.example.call/k?format=event").json_body
    assert state["content"] == {"by": "alice"} and state["sender"] == alice.user_id
    assert [e for e in timeline(alice, room_id) if e["type"] == "org.example.call"][-1]["sender"] == alice.user_id


# --- the embedded default: the in-process loop sends at the due time --------------------------------

@pytest.mark.django_db(transaction=True)
def test_the_in_process_loop_sends_when_due(monkeypatch):
    """Tasks run in-process (no broker, no beat): the loop started by the scheduling sleeps until the due
    time and sends; no sweep is called by the test."""
    import time

    from apps.delayed_events import wakeups
    from tests.conftest import MatrixClient

    monkeypatch.setattr(wakeups, "IN_PROCESS_THREAD", True)
    alice = MatrixClient()
    alice.register("alice")
    room_id = create_room(alice)
    try:
        delay_id = schedule_message(alice, room_id, 200, "on its own").json_body["delay_id"]
        assert wakeups.loop().running
        deadline = time.monotonic() + 30
        while "on its own" not in bodies(alice, room_id) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "on its own" in bodies(alice, room_id)
        assert DelayedEvent.objects.get(delay_id=delay_id).status == DelayedEvent.SENT
    finally:
        wakeups.loop().stop()
    assert not wakeups.loop().running
