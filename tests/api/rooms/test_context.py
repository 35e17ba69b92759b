"""GET /rooms/{roomId}/context/{eventId} (getEventContext)."""
from __future__ import annotations

import json
from urllib.parse import quote

from tests.api.rooms.helpers import API, create_room, send
from tests.api.rooms.test_messages import bodies, fill, joined_room, messages
from tests.conftest import assert_error


def context(client, room_id, event_id, **params):
    query = "&".join(f"{k}={quote(str(v))}" for k, v in params.items())
    return client.get(f"{API}/rooms/{room_id}/context/{event_id}?{query}")


def test_context_around_an_event(alice, bob):
    room_id = joined_room(alice, bob)
    ids = fill(alice, room_id, 9)
    body = context(bob, room_id, ids[4], limit=4).json_body
    assert body["event"]["event_id"] == ids[4]
    assert [e["event_id"] for e in body["events_before"]] == [ids[3], ids[2]]
    assert [e["event_id"] for e in body["events_after"]] == [ids[5], ids[6]]
    state = {(e["type"], e["state_key"]) for e in body["state"]}
    assert ("m.room.create", "") in state and ("m.room.member", bob.user_id) in state
    # The tokens continue with /messages.
    before = messages(bob, room_id, dir="b", limit=2, **{"from": body["start"]})
    assert [e["event_id"] for e in before.json_body["chunk"]] == [ids[1], ids[0]]
    after = messages(bob, room_id, dir="f", limit=5, **{"from": body["end"]})
    assert [e["event_id"] for e in after.json_body["chunk"]] == [ids[7], ids[8]]


def test_context_default_limit_and_zero(alice):
    room_id = create_room(alice, preset="public_chat")
    ids = fill(alice, room_id, 12)
    body = context(alice, room_id, ids[6]).json_body
    assert len(body["events_before"]) == 5 and len(body["events_after"]) == 5
    body = context(alice, room_id, ids[6], limit=0).json_body
    assert body["event"]["event_id"] == ids[6]
    assert body["events_before"] == [] and body["events_after"] == []
    assert isinstance(body["start"], str) and isinstance(body["end"], str)


def test_context_filter_and_lazy_members(alice, bob):
    room_id = joined_room(alice, bob)
    a = send(alice, room_id, {"msgtype": "m.text", "body": "a"}).json_body["event_id"]
    send(bob, room_id, {"msgtype": "m.text", "body": "b"})
    send(alice, room_id, {"k": 1}, event_type="org.example.other")
    f = json.dumps({"types": ["m.room.message"], "lazy_load_members": True})
    body = context(alice, room_id, a, limit=10, filter=f).json_body
    assert [e["content"]["body"] for e in body["events_after"]] == ["b"]
    assert all(e["type"] == "m.room.message" for e in body["events_before"])
    # With a types filter, state is filtered too; lazy loading restricts members to senders.
    assert all(e["type"] == "m.room.message" for e in body["state"])
    body = context(alice, room_id, a, limit=10, filter=json.dumps({"lazy_load_members": True,
                                                                   "senders": [alice.user_id]})).json_body
    members = {e["state_key"] for e in body["state"] if e["type"] == "m.room.member"}
    assert members <= {alice.user_id, bob.user_id}


def test_context_errors(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    ev = fill(alice, room_id, 1)[0]
    assert_error(context(bob, room_id, ev), 404, "M_NOT_FOUND")  # not a member
    assert_error(context(alice, room_id, "$unknown"), 404, "M_NOT_FOUND")
    assert_error(context(alice, room_id, "nope"), 400, "M_INVALID_PARAM")
    assert_error(context(alice, room_id, ev, limit="x"), 400, "M_INVALID_PARAM")
    assert_error(context(alice, room_id, ev, filter="{"), 400, "M_NOT_JSON")
    assert_error(context(alice, room_id, ev, filter='{"senders": 3}'), 400, "M_BAD_JSON")
    other = create_room(alice, preset="public_chat")
    assert_error(context(alice, other, ev), 404, "M_NOT_FOUND")  # an event of another room


def test_context_for_a_kicked_user(alice, bob):
    room_id = joined_room(alice, bob)
    before = fill(alice, room_id, 2)
    alice.post(f"{API}/rooms/{room_id}/kick", {"user_id": bob.user_id})
    after = fill(alice, room_id, 2, prefix="after")
    body = context(bob, room_id, before[1], limit=10).json_body
    assert after[0] not in [e["event_id"] for e in body["events_after"]]
    assert_error(context(bob, room_id, after[0]), 404, "M_NOT_FOUND")
    assert "after0" not in bodies(messages(bob, room_id, dir="b"))


def test_context_query_count(alice, bob, django_assert_max_num_queries):
    room_id = joined_room(alice, bob)
    ids = fill(alice, room_id, 40)
    for i in range(10):
        alice.put(f"{API}/rooms/{room_id}/state/org.example.s/{i}", {"i": i})
    # 24, the reader's ignored users (once per request) and bundled aggregations (once per page)
    with django_assert_max_num_queries(26):
        assert context(bob, room_id, ids[20], limit=30).status_code == 200
