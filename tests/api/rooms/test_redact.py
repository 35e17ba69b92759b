"""PUT /rooms/{roomId}/redact/{eventId}/{txnId} (redactEvent) and redacted events as served."""
from __future__ import annotations

import pytest

from tests.api.rooms.helpers import API, create_room, send
from tests.api.rooms.test_messages import joined_room, messages
from tests.conftest import assert_error


def redact(client, room_id, event_id, txn_id="t1", body=None):
    return client.put(f"{API}/rooms/{room_id}/redact/{event_id}/{txn_id}", body if body is not None else {})


# Not v3: its event IDs (standard base64) may contain "/", which no path route takes yet.
@pytest.mark.parametrize("version", ["1", "4", "10", "11", "12"])
def test_redaction_seen_by_both_users(alice, bob, version):
    room_id = joined_room(alice, bob, room_version=version)
    target = send(bob, room_id, {"msgtype": "m.text", "body": "oops", "url": "mxc://x/y"}).json_body["event_id"]
    resp = redact(bob, room_id, target, body={"reason": "typo"})
    assert resp.status_code == 200, resp.json_body
    redaction_id = resp.json_body["event_id"]
    for client in (alice, bob):
        ev = client.get(f"{API}/rooms/{room_id}/event/{target}").json_body
        assert ev["content"] == {}
        because = ev["unsigned"]["redacted_because"]
        assert because["event_id"] == redaction_id and because["type"] == "m.room.redaction"
        assert because["redacts"] == target and because["content"]["redacts"] == target
        assert because["content"]["reason"] == "typo"
        chunk = messages(client, room_id, dir="b", limit=5).json_body["chunk"]
        by_id = {e["event_id"]: e for e in chunk}
        assert by_id[redaction_id]["type"] == "m.room.redaction"
        assert by_id[target]["content"] == {}
        assert by_id[target]["unsigned"]["redacted_because"]["event_id"] == redaction_id
    # v11+ carry `redacts` in the content of the PDU, earlier versions at the top level (both served).
    assert by_id[redaction_id]["redacts"] == target


def test_redaction_keeps_protected_keys_of_state_events(alice):
    room_id = create_room(alice, preset="public_chat")
    ev = alice.put(f"{API}/rooms/{room_id}/state/m.room.join_rules", {"join_rule": "public", "x": 1}).json_body
    assert redact(alice, room_id, ev["event_id"]).status_code == 200
    served = alice.get(f"{API}/rooms/{room_id}/event/{ev['event_id']}").json_body
    assert served["content"] == {"join_rule": "public"}


def test_redaction_is_idempotent_per_txn(alice):
    room_id = create_room(alice, preset="public_chat")
    target = send(alice, room_id).json_body["event_id"]
    first = redact(alice, room_id, target, "same").json_body["event_id"]
    assert redact(alice, room_id, target, "same").json_body["event_id"] == first
    # A new txn id is a new redaction event; the first one stays the one applied.
    second = redact(alice, room_id, target, "other").json_body["event_id"]
    assert second != first
    served = alice.get(f"{API}/rooms/{room_id}/event/{target}").json_body
    assert served["unsigned"]["redacted_because"]["event_id"] == first


def test_redacting_others_needs_the_redact_level(alice, bob):
    room_id = joined_room(alice, bob)
    alices = send(alice, room_id).json_body["event_id"]
    bobs = send(bob, room_id).json_body["event_id"]
    assert_error(redact(bob, room_id, alices), 403, "M_FORBIDDEN")
    assert alice.get(f"{API}/rooms/{room_id}/event/{alices}").json_body["content"]["body"] == "hello"
    # alice is the creator (power 100 >= redact 50): she may redact bob's event.
    assert redact(alice, room_id, bobs).status_code == 200
    assert bob.get(f"{API}/rooms/{room_id}/event/{bobs}").json_body["content"] == {}


def test_redaction_errors(alice, bob, mx):
    room_id = create_room(alice, preset="public_chat")
    target = send(alice, room_id).json_body["event_id"]
    other_room = create_room(alice, preset="public_chat")
    # Cross-room: the event is not one of this room.
    assert_error(redact(alice, other_room, target), 404, "M_NOT_FOUND")
    assert_error(redact(alice, room_id, "$unknown"), 404, "M_NOT_FOUND")
    assert_error(redact(alice, room_id, "not-an-event"), 400, "M_INVALID_PARAM")
    assert_error(redact(alice, "not-a-room", target), 400, "M_INVALID_PARAM")
    assert_error(redact(alice, "!unknown:test", target), 404, "M_NOT_FOUND")
    assert_error(redact(bob, room_id, target), 403, "M_FORBIDDEN")  # not in the room
    assert_error(redact(alice, room_id, target, body={"reason": 5}), 400, "M_BAD_JSON")
    resp = alice.put(f"{API}/rooms/{room_id}/redact/{target}/t9", raw=b"{nope")
    assert_error(resp, 400, "M_NOT_JSON")
    assert_error(redact(mx, room_id, target), 401, "M_MISSING_TOKEN")


def test_redacted_events_query_count(alice, django_assert_max_num_queries):
    room_id = create_room(alice, preset="public_chat")
    ids = [send(alice, room_id).json_body["event_id"] for _ in range(10)]
    for i, eid in enumerate(ids):
        redact(alice, room_id, eid, f"r{i}")
    with django_assert_max_num_queries(16):
        chunk = messages(alice, room_id, dir="b", limit=20).json_body["chunk"]
    assert sum(1 for e in chunk if "redacted_because" in e["unsigned"]) == 10


def test_redactions_persisted_by_the_pipeline_are_recorded(alice, bob):
    """A redaction that did not come through redactEvent (as from federation): `record_redaction`,
    run by the persisted-event hook, applies it when the senders' servers match."""
    from apps.rooms import redactions
    from apps.rooms.creation import create_local_event
    from apps.rooms.models import EventRow

    room_id = joined_room(alice, bob, room_version="11")
    target = send(bob, room_id).json_body["event_id"]
    red, _ = create_local_event(alice.user_id, room_id, {"type": "m.room.redaction",
                                                         "content": {"redacts": target}})
    assert EventRow.objects.get(event_id=target).redacted_by is None  # the hook runs after commit
    assert redactions.record_redaction(red) is True
    served = bob.get(f"{API}/rooms/{room_id}/event/{target}").json_body
    assert served["unsigned"]["redacted_because"]["event_id"] == red.event_id
    # One naming an event of another room is not applied.
    other = create_room(alice, preset="public_chat", room_version="11")
    stray, _ = create_local_event(alice.user_id, other, {"type": "m.room.redaction", "content": {"redacts": target}})
    assert redactions.record_redaction(stray) is False
    assert EventRow.objects.get(event_id=target).redacted_by == red.event_id
