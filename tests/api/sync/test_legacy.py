"""The deprecated sync endpoints (old_sync.yaml, room_initial_sync.yaml, peeking_events.yaml): GET /events
(and its peeking form with room_id), GET /initialSync, GET /rooms/{roomId}/initialSync, GET /events/{eventId}."""
from __future__ import annotations

import threading
import time
from urllib.parse import urlencode

import pytest
from django.db import connection

from tests.api.rooms.helpers import create_room, send
from tests.api.sync.helpers import API, sync
from tests.conftest import MatrixClient, assert_error

pytestmark = pytest.mark.django_db(transaction=True)


def _msg(client, room_id, body):
    resp = send(client, room_id, {"msgtype": "m.text", "body": body})
    assert resp.status_code == 200, resp.json_body
    return resp.json_body["event_id"]


def events(client, expect: int = 200, **params):
    resp = client.get(f"{API}/events" + (f"?{urlencode(params)}" if params else ""))
    assert resp.status_code == expect, (resp.status_code, resp.json_body)
    return resp.json_body


def _clone(client):
    c = MatrixClient()
    c.token, c.user_id, c.device_id = client.token, client.user_id, client.device_id
    return c


def _in_thread(fn):
    out: dict = {}

    def run():
        try:
            started = time.monotonic()
            out["body"] = fn()
            out["elapsed"] = time.monotonic() - started
        except BaseException as e:  # noqa: BLE001 - reported by the test
            out["error"] = e
        finally:
            connection.close()

    t = threading.Thread(target=run)
    t.start()
    return t, out


# --- GET /events ---------------------------------------------------------------------------------------------

def test_events_returns_the_events_after_from_in_joined_rooms(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    other = create_room(bob)  # alice is not in it
    since = sync(alice)["next_batch"]
    a = _msg(alice, room_id, "one")
    _msg(bob, other, "not for alice")
    bob.post(f"{API}/rooms/{room_id}/join")
    b = _msg(bob, room_id, "two")
    body = events(alice, **{"from": since})
    ids = [e["event_id"] for e in body["chunk"]]
    assert ids[0] == a and ids[-1] == b and len(ids) == 3  # one, bob's join, two
    assert all(e["room_id"] == room_id for e in body["chunk"])
    assert body["start"] == since
    # `end` continues exactly there: nothing again, and a /sync from it sees nothing either.
    assert events(alice, **{"from": body["end"]})["chunk"] == []
    assert sync(alice, body["end"])["rooms"]["join"] == {}


def test_events_chunk_is_bounded_and_end_continues(alice, monkeypatch):
    from apps.sync import legacy

    monkeypatch.setattr(legacy, "EVENTS_CHUNK", 3)
    room_id = create_room(alice)
    since = sync(alice)["next_batch"]
    sent = [_msg(alice, room_id, str(i)) for i in range(7)]
    got, token = [], since
    for _ in range(4):
        body = events(alice, **{"from": token})
        assert len(body["chunk"]) <= 3
        got += [e["event_id"] for e in body["chunk"]]
        token = body["end"]
    assert got == sent


def test_events_includes_an_invite_to_a_new_room(alice, bob):
    since = sync(bob)["next_batch"]
    room_id = create_room(alice)
    alice.post(f"{API}/rooms/{room_id}/invite", {"user_id": bob.user_id})
    chunk = events(bob, **{"from": since})["chunk"]
    assert [(e["type"], e["content"]["membership"]) for e in chunk] == [("m.room.member", "invite")]
    assert chunk[0]["room_id"] == room_id


def test_events_without_from_starts_now(alice):
    room_id = create_room(alice)
    _msg(alice, room_id, "old")
    body = events(alice)
    assert body["chunk"] == []
    eid = _msg(alice, room_id, "new")
    assert [e["event_id"] for e in events(alice, **{"from": body["end"]})["chunk"]] == [eid]


def test_events_long_poll_wakes_on_a_message(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    bob.post(f"{API}/rooms/{room_id}/join")
    since = events(bob)["end"]
    t, out = _in_thread(lambda: events(_clone(bob), **{"from": since, "timeout": 20000}))
    time.sleep(0.5)
    assert t.is_alive(), out
    eid = _msg(alice, room_id, "wake up")
    t.join(5)
    assert not t.is_alive(), "the /events long-poll was not woken"
    assert "error" not in out, out
    assert [e["event_id"] for e in out["body"]["chunk"]] == [eid]
    assert out["body"]["start"] == since
    assert out["elapsed"] < 5


def test_events_long_poll_times_out_empty(alice):
    create_room(alice)
    since = events(alice)["end"]
    started = time.monotonic()
    body = events(alice, **{"from": since, "timeout": 300})
    assert 0.25 < time.monotonic() - started < 5
    assert body["chunk"] == [] and body["start"] == since


@pytest.mark.parametrize("query", ["from=garbage", "from=s1_x", "timeout=soon", "timeout=-1", "room_id=nope"])
def test_events_bad_parameters(alice, query):
    assert_error(alice.get(f"{API}/events?{query}"), 400, "M_INVALID_PARAM")


def test_events_needs_auth(mx):
    assert_error(mx.get(f"{API}/events", token=None), 401, "M_MISSING_TOKEN")


# --- peekEvents (GET /events?room_id=) ----------------------------------------------------------------------

def test_peek_events_in_a_world_readable_room(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    alice.put(f"{API}/rooms/{room_id}/state/m.room.history_visibility", {"history_visibility": "world_readable"})
    since = events(bob, room_id=room_id)["end"]
    t, out = _in_thread(lambda: events(_clone(bob), room_id=room_id, **{"from": since, "timeout": 20000}))
    time.sleep(0.5)
    assert t.is_alive(), out
    eid = _msg(alice, room_id, "for everyone")
    t.join(5)
    assert not t.is_alive(), "the peek was not woken"
    assert "error" not in out, out
    assert [e["event_id"] for e in out["body"]["chunk"]] == [eid]


def test_peek_refused_in_a_private_room(alice, bob):
    room_id = create_room(alice)
    assert_error(bob.get(f"{API}/events?room_id={room_id}"), 403, "M_FORBIDDEN")
    assert_error(bob.get(f"{API}/events?room_id=!unknown:localhost"), 404, "M_NOT_FOUND")


# --- GET /initialSync --------------------------------------------------------------------------------------

def test_initial_sync(alice, bob):
    joined = create_room(alice, name="Joined", preset="public_chat", visibility="public")
    eids = [_msg(alice, joined, f"m{i}") for i in range(3)]
    invited = create_room(bob)
    bob.post(f"{API}/rooms/{invited}/invite", {"user_id": alice.user_id})
    left = create_room(bob, preset="public_chat")
    alice.post(f"{API}/rooms/{left}/join")
    alice.post(f"{API}/rooms/{left}/leave")

    resp = alice.get(f"{API}/initialSync?limit=2")
    assert resp.status_code == 200, resp.json_body
    body = resp.json_body
    assert body["presence"] == [] or isinstance(body["presence"], list)
    assert isinstance(body["account_data"], list)
    rooms = {r["room_id"]: r for r in body["rooms"]}
    assert set(rooms) == {joined, invited}
    room = rooms[joined]
    assert room["membership"] == "join" and room["visibility"] == "public"
    assert [e["event_id"] for e in room["messages"]["chunk"]] == eids[-2:]
    assert all(e["room_id"] == joined for e in room["messages"]["chunk"])
    assert room["messages"]["end"] == body["end"] and room["messages"]["start"].startswith("s")
    state = {(e["type"], e["state_key"]): e for e in room["state"]}
    assert state[("m.room.name", "")]["content"]["name"] == "Joined"
    assert ("m.room.member", alice.user_id) in state
    assert rooms[invited]["membership"] == "invite"
    assert rooms[invited]["invite"]["content"]["membership"] == "invite"

    # The messages' start token paginates backwards with /messages to what came before.
    earlier = alice.get(f"{API}/rooms/{joined}/messages?dir=b&limit=1&from={room['messages']['start']}")
    assert earlier.status_code == 200, earlier.json_body
    assert [e["event_id"] for e in earlier.json_body["chunk"]] == [eids[0]]

    # `end` is a token for /events: what comes after it.
    eid = _msg(alice, joined, "later")
    assert [e["event_id"] for e in events(alice, **{"from": body["end"]})["chunk"]] == [eid]


def test_initial_sync_archived_includes_left_rooms_up_to_the_leave(alice, bob):
    room_id = create_room(bob, preset="public_chat")
    alice.post(f"{API}/rooms/{room_id}/join")
    before = _msg(bob, room_id, "before")
    alice.post(f"{API}/rooms/{room_id}/leave")
    _msg(bob, room_id, "after")
    body = alice.get(f"{API}/initialSync?archived=true").json_body
    room = {r["room_id"]: r for r in body["rooms"]}[room_id]
    assert room["membership"] == "leave"
    chunk = room["messages"]["chunk"]
    assert before in [e["event_id"] for e in chunk]
    assert chunk[-1]["type"] == "m.room.member" and chunk[-1]["content"]["membership"] == "leave"
    assert all(e["content"].get("body") != "after" for e in chunk)
    member = [e for e in room["state"] if e["type"] == "m.room.member" and e["state_key"] == alice.user_id]
    assert member[0]["content"]["membership"] == "leave"


@pytest.mark.parametrize("query", ["limit=x", "limit=-1", "archived=maybe"])
def test_initial_sync_bad_parameters(alice, query):
    assert_error(alice.get(f"{API}/initialSync?{query}"), 400, "M_INVALID_PARAM")


# --- GET /rooms/{roomId}/initialSync -----------------------------------------------------------------------

def test_room_initial_sync_for_a_member(alice):
    room_id = create_room(alice, name="R")
    eid = _msg(alice, room_id, "hi")
    resp = alice.get(f"{API}/rooms/{room_id}/initialSync")
    assert resp.status_code == 200, resp.json_body
    body = resp.json_body
    assert body["room_id"] == room_id and body["membership"] == "join" and body["visibility"] == "private"
    assert body["messages"]["chunk"][-1]["event_id"] == eid
    assert {e["type"] for e in body["state"]} >= {"m.room.create", "m.room.name", "m.room.member"}
    assert body["account_data"] == [] or isinstance(body["account_data"], list)


def test_room_initial_sync_world_readable_and_refused(alice, bob):
    room_id = create_room(alice)
    assert_error(bob.get(f"{API}/rooms/{room_id}/initialSync"), 403, "M_FORBIDDEN")
    alice.put(f"{API}/rooms/{room_id}/state/m.room.history_visibility", {"history_visibility": "world_readable"})
    eid = _msg(alice, room_id, "public")
    body = bob.get(f"{API}/rooms/{room_id}/initialSync").json_body
    assert "membership" not in body
    assert body["messages"]["chunk"][-1]["event_id"] == eid
    assert_error(bob.get(f"{API}/rooms/!nowhere:localhost/initialSync"), 403, "M_FORBIDDEN")


# --- GET /events/{eventId} ---------------------------------------------------------------------------------

def test_get_one_event(alice, bob):
    room_id = create_room(alice)
    eid = _msg(alice, room_id, "secret")
    resp = alice.get(f"{API}/events/{eid}")
    assert resp.status_code == 200, resp.json_body
    assert resp.json_body["event_id"] == eid and resp.json_body["room_id"] == room_id
    assert resp.json_body["content"]["body"] == "secret"
    # Not a member: the same 404 as for a missing event.
    assert_error(bob.get(f"{API}/events/{eid}"), 404, "M_NOT_FOUND")
    assert_error(alice.get(f"{API}/events/$nothing"), 404, "M_NOT_FOUND")
