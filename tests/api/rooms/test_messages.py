"""GET /rooms/{roomId}/messages (getRoomEvents): directions, tokens, limits, filters, lazy-loaded
members, access of members, former members and non-members, errors, query counts."""
from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from tests.api.rooms.helpers import API, create_room, send
from tests.conftest import assert_error


def messages(client, room_id, **params):
    query = "&".join(f"{k}={quote(str(v))}" for k, v in params.items())
    return client.get(f"{API}/rooms/{room_id}/messages?{query}")


def bodies(resp):
    return [e["content"].get("body") for e in resp.json_body["chunk"] if e["type"] == "m.room.message"]


def fill(client, room_id, n, prefix="m"):
    return [send(client, room_id, {"msgtype": "m.text", "body": f"{prefix}{i}"}).json_body["event_id"]
            for i in range(n)]


def joined_room(alice, bob, **kw):
    room_id = create_room(alice, preset="public_chat", **kw)
    assert bob.post(f"{API}/rooms/{room_id}/join").status_code == 200
    return room_id


def walk(client, room_id, direction, limit, **params):
    """Every event reached by paginating until `end` is omitted; asserts progress."""
    seen, token, pages = [], None, 0
    while True:
        p = dict(dir=direction, limit=limit, **params)
        if token is not None:
            p["from"] = token
        resp = messages(client, room_id, **p)
        assert resp.status_code == 200, resp.json_body
        seen += [e["event_id"] for e in resp.json_body["chunk"]]
        pages += 1
        assert pages < 200
        if "end" not in resp.json_body:
            return seen
        assert resp.json_body["end"] != token
        token = resp.json_body["end"]


def test_backwards_newest_first_and_default_limit(alice):
    room_id = create_room(alice, preset="public_chat")
    fill(alice, room_id, 15)
    resp = messages(alice, room_id, dir="b")
    assert resp.status_code == 200
    body = resp.json_body
    assert len(body["chunk"]) == 10
    assert bodies(resp) == [f"m{i}" for i in range(14, 4, -1)]
    assert isinstance(body["start"], str) and isinstance(body["end"], str)
    for e in body["chunk"]:
        assert e["room_id"] == room_id and "unsigned" in e


def test_forwards_oldest_first_from_the_start(alice):
    room_id = create_room(alice, preset="public_chat")
    fill(alice, room_id, 3)
    resp = messages(alice, room_id, dir="f", limit=100)
    types = [e["type"] for e in resp.json_body["chunk"]]
    assert types[0] == "m.room.create"
    assert bodies(resp) == ["m0", "m1", "m2"]
    assert "end" not in resp.json_body


def test_pagination_reaches_every_event_exactly_once_both_ways(alice):
    room_id = create_room(alice, preset="public_chat")
    fill(alice, room_id, 23)
    for limit in (1, 4, 7, 50):
        back = walk(alice, room_id, "b", limit)
        fwd = walk(alice, room_id, "f", limit)
        assert len(back) == len(set(back))
        assert back == list(reversed(fwd))
    assert len(back) >= 23 + 5  # the messages and the room's creation events


def test_tokens_continue_in_both_directions(alice):
    room_id = create_room(alice, preset="public_chat")
    fill(alice, room_id, 10)
    first = messages(alice, room_id, dir="b", limit=3).json_body
    assert [e["content"]["body"] for e in first["chunk"]] == ["m9", "m8", "m7"]
    second = messages(alice, room_id, dir="b", limit=3, **{"from": first["end"]}).json_body
    assert [e["content"]["body"] for e in second["chunk"]] == ["m6", "m5", "m4"]
    # Forwards from the end of the second page comes back over it.
    fwd = messages(alice, room_id, dir="f", limit=3, **{"from": second["end"]}).json_body
    assert [e["content"]["body"] for e in fwd["chunk"]] == ["m4", "m5", "m6"]
    # The start token is the from token.
    assert second["start"] == first["end"]


def test_new_events_after_a_forward_end_token(alice):
    room_id = create_room(alice, preset="public_chat")
    fill(alice, room_id, 2)
    body = messages(alice, room_id, dir="f", limit=100).json_body
    assert "end" not in body
    # Paginating forwards from the newest event: the start token (dir=b) picks up new events.
    top = messages(alice, room_id, dir="b", limit=1).json_body["start"]
    fill(alice, room_id, 2, prefix="new")
    resp = messages(alice, room_id, dir="f", **{"from": top})
    assert bodies(resp) == ["new0", "new1"]


def test_to_token_bounds_the_page(alice):
    room_id = create_room(alice, preset="public_chat")
    fill(alice, room_id, 6)
    page = messages(alice, room_id, dir="b", limit=2).json_body  # m5, m4
    resp = messages(alice, room_id, dir="b", limit=50, to=page["end"])
    assert bodies(resp) == ["m5", "m4"]
    assert "end" not in resp.json_body


def test_sync_style_stream_token_accepted(alice):
    room_id = create_room(alice, preset="public_chat")
    fill(alice, room_id, 3)
    # A sync token (StreamToken) as `from`: its events position.
    resp = messages(alice, room_id, dir="b", limit=2, **{"from": "s999999999_0_0_0_0_0_0_0"})
    assert resp.status_code == 200
    assert bodies(resp) == ["m2", "m1"]


def test_limit_capped_and_zero(alice):
    room_id = create_room(alice, preset="public_chat")
    fill(alice, room_id, 3)
    resp = messages(alice, room_id, dir="b", limit=0)
    assert resp.status_code == 200 and resp.json_body["chunk"] == []
    resp = messages(alice, room_id, dir="b", limit=10**9)
    assert resp.status_code == 200 and "end" not in resp.json_body


@pytest.mark.parametrize("params, code", [
    ({}, "M_MISSING_PARAM"),
    ({"dir": "x"}, "M_INVALID_PARAM"),
    ({"dir": "b", "limit": "ten"}, "M_INVALID_PARAM"),
    ({"dir": "b", "limit": "-1"}, "M_INVALID_PARAM"),
    ({"dir": "b", "from": "garbage"}, "M_INVALID_PARAM"),
    ({"dir": "b", "from": "t1-"}, "M_INVALID_PARAM"),
    ({"dir": "b", "from": "t99999999999999999999-1"}, "M_INVALID_PARAM"),
    ({"dir": "b", "to": "s1_x"}, "M_INVALID_PARAM"),
    ({"dir": "b", "filter": "{not json"}, "M_NOT_JSON"),
    ({"dir": "b", "filter": "[]"}, "M_BAD_JSON"),
    ({"dir": "b", "filter": '{"types": "m.room.message"}'}, "M_BAD_JSON"),
    ({"dir": "b", "filter": '{"limit": -3}'}, "M_BAD_JSON"),
    ({"dir": "b", "filter": '{"contains_url": "yes"}'}, "M_BAD_JSON"),
    ({"dir": "b", "filter": '{"rooms": ["not-a-room"]}'}, "M_BAD_JSON"),
])
def test_bad_parameters(alice, params, code):
    room_id = create_room(alice, preset="public_chat")
    assert_error(messages(alice, room_id, **params), 400, code)


def test_bad_room_ids_and_auth(alice, mx):
    assert_error(alice.get(f"{API}/rooms/nope/messages?dir=b"), 400, "M_INVALID_PARAM")
    assert_error(alice.get(f"{API}/rooms/!unknown:test/messages?dir=b"), 403, "M_FORBIDDEN")
    room_id = create_room(alice, preset="public_chat")
    assert_error(mx.get(f"{API}/rooms/{room_id}/messages?dir=b"), 401, "M_MISSING_TOKEN")


def test_non_member_refused_unless_world_readable(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    fill(alice, room_id, 2)
    assert_error(messages(bob, room_id, dir="b"), 403, "M_FORBIDDEN")
    alice.put(f"{API}/rooms/{room_id}/state/m.room.history_visibility", {"history_visibility": "world_readable"})
    fill(alice, room_id, 2, prefix="w")
    resp = messages(bob, room_id, dir="b", limit=50)
    assert resp.status_code == 200
    # Only what was sent while world_readable (and the visibility change itself).
    assert bodies(resp) == ["w1", "w0"]


def test_filters(alice, bob):
    room_id = joined_room(alice, bob)
    send(alice, room_id, {"msgtype": "m.text", "body": "a-text"})
    send(bob, room_id, {"msgtype": "m.text", "body": "b-text"})
    send(alice, room_id, {"msgtype": "m.image", "body": "a-img", "url": "mxc://test/x"})
    send(alice, room_id, {"k": 1}, event_type="org.example.custom")

    def get(f):
        resp = messages(alice, room_id, dir="f", limit=100, filter=json.dumps(f))
        assert resp.status_code == 200, resp.json_body
        return resp.json_body["chunk"]

    assert {e["type"] for e in get({"types": ["m.room.message"]})} == {"m.room.message"}
    assert {e["type"] for e in get({"types": ["m.room.*"]})} >= {"m.room.message", "m.room.create"}
    assert "org.example.custom" not in {e["type"] for e in get({"types": ["m.room.*"]})}
    assert all(e["type"] != "m.room.message" for e in get({"not_types": ["m.room.message"]}))
    assert {e["type"] for e in get({"types": ["m.*"], "not_types": ["m.room.member"]})} \
        .isdisjoint({"m.room.member"})
    assert {e["sender"] for e in get({"senders": [bob.user_id]})} == {bob.user_id}
    assert bob.user_id not in {e["sender"] for e in get({"not_senders": [bob.user_id]})}
    assert [e["content"]["body"] for e in get({"contains_url": True})] == ["a-img"]
    assert "a-img" not in [e["content"].get("body") for e in get({"contains_url": False})]
    assert get({"not_rooms": [room_id]}) == []
    assert get({"rooms": ["!other:test"]}) == []
    assert len(get({"types": ["m.room.message"], "senders": [alice.user_id]})) == 2
    # The filter's limit applies when `limit` is absent.
    resp = messages(alice, room_id, dir="b", filter=json.dumps({"limit": 2}))
    assert len(resp.json_body["chunk"]) == 2


def test_filtered_pagination_is_complete(alice, bob):
    room_id = joined_room(alice, bob)
    for i in range(12):
        send(alice if i % 3 else bob, room_id, {"msgtype": "m.text", "body": f"x{i}"})
    f = json.dumps({"senders": [bob.user_id], "types": ["m.room.message"]})
    got = walk(alice, room_id, "b", 2, filter=f)
    assert len(got) == 4
    f = json.dumps({"types": ["*.message"]})  # a wildcard: filtered in Python, across batches
    assert len(walk(alice, room_id, "b", 1, filter=f)) == 12


def test_lazy_load_members(alice, bob, client_factory):
    carol = client_factory()
    carol.register("carol")
    room_id = joined_room(alice, bob)
    assert carol.post(f"{API}/rooms/{room_id}/join").status_code == 200
    send(bob, room_id, {"msgtype": "m.text", "body": "from bob"})
    send(alice, room_id, {"msgtype": "m.text", "body": "from alice"})
    f = json.dumps({"lazy_load_members": True, "types": ["m.room.message"]})
    body = messages(alice, room_id, dir="b", limit=2, filter=f).json_body
    state = body["state"]
    assert {e["state_key"] for e in state} == {alice.user_id, bob.user_id}
    assert all(e["type"] == "m.room.member" and e["content"]["membership"] == "join" for e in state)
    # Without lazy loading there is no state.
    assert "state" not in messages(alice, room_id, dir="b", limit=2).json_body


def test_kicked_user_loses_access_to_later_events(alice, bob):
    room_id = joined_room(alice, bob)
    fill(alice, room_id, 2, prefix="before")
    assert alice.post(f"{API}/rooms/{room_id}/kick", {"user_id": bob.user_id}).status_code == 200
    fill(alice, room_id, 3, prefix="after")
    resp = messages(bob, room_id, dir="b", limit=50)
    assert resp.status_code == 200
    assert bodies(resp) == ["before1", "before0"]
    assert resp.json_body["chunk"][0]["type"] == "m.room.member"  # the kick itself is bob's to see
    resp = messages(bob, room_id, dir="f", limit=50)
    assert "after0" not in bodies(resp)
    # Even with a token from after the kick.
    token = messages(alice, room_id, dir="b", limit=1).json_body["start"]
    assert "after2" not in bodies(messages(bob, room_id, dir="b", **{"from": token}))
    # After forgetting the room, nothing.
    assert bob.post(f"{API}/rooms/{room_id}/forget").status_code == 200
    assert_error(messages(bob, room_id, dir="b"), 403, "M_FORBIDDEN")



MESSAGES_MAX = 17  # including one query for the page's bundled aggregations (apps.relations)


def test_messages_query_count_independent_of_limit_and_room_size(alice, bob, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    room_id = joined_room(alice, bob)
    fill(alice, room_id, 5)
    with CaptureQueriesContext(connection) as small:
        assert messages(bob, room_id, dir="b", limit=5).status_code == 200
    # A bigger room, with many state changes (so many state groups) and members.
    for i in range(30):
        alice.put(f"{API}/rooms/{room_id}/state/org.example.s/{i}", {"i": i})
        send(bob if i % 2 else alice, room_id, {"msgtype": "m.text", "body": f"big{i}"})
    with django_assert_max_num_queries(MESSAGES_MAX):
        assert len(messages(bob, room_id, dir="b", limit=60).json_body["chunk"]) == 60
    with CaptureQueriesContext(connection) as big:
        assert messages(bob, room_id, dir="b", limit=5).status_code == 200
    assert len(big) == len(small), [q["sql"] for q in big.captured_queries]
    f = json.dumps({"lazy_load_members": True, "types": ["*.message"]})
    with django_assert_max_num_queries(MESSAGES_MAX + 4):
        assert messages(bob, room_id, dir="f", limit=40, filter=f).status_code == 200
