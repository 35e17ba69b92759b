"""PUT /rooms/{roomId}/typing/{userId} (setTyping) and the `m.typing` events of /sync."""
from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from apps.typing import handlers
from apps.typing.models import RoomTyping
from tests.api.rooms.helpers import create_room
from tests.api.sync.helpers import sync
from tests.conftest import MatrixClient, assert_error

pytestmark = pytest.mark.django_db(transaction=True)

API = "/_matrix/client/v3"


def _typing(client, room_id, body, user_id=None):
    return client.put(f"{API}/rooms/{room_id}/typing/{user_id or client.user_id}", body)


def _shared_room(alice, bob) -> str:
    room_id = create_room(alice, preset="public_chat")
    assert bob.post(f"{API}/rooms/{room_id}/join").status_code == 200
    return room_id


def _typing_events(body, room_id):
    room = body["rooms"]["join"].get(room_id)
    if room is None:
        return []
    return [e for e in room["ephemeral"]["events"] if e["type"] == "m.typing"]


def _clone(client):
    c = MatrixClient()
    c.token, c.user_id, c.device_id = client.token, client.user_id, client.device_id
    return c


def _sync_in_thread(client, since, timeout_ms, **params):
    out: dict = {}

    def run():
        try:
            started = time.monotonic()
            out["body"] = sync(_clone(client), since, timeout=timeout_ms, **params)
            out["elapsed"] = time.monotonic() - started
        except BaseException as e:  # noqa: BLE001 - reported by the test
            out["error"] = e
        finally:
            connection.close()

    t = threading.Thread(target=run)
    t.start()
    return t, out


def test_typing_reaches_the_other_member_and_stopping_clears_it(alice, bob):
    room_id = _shared_room(alice, bob)
    since = sync(bob)["next_batch"]
    resp = _typing(alice, room_id, {"typing": True, "timeout": 20_000})
    assert resp.status_code == 200 and resp.json_body == {}

    body = sync(bob, since)
    assert _typing_events(body, room_id) == [{"type": "m.typing", "content": {"user_ids": [alice.user_id]}}]
    # An initial sync shows who is typing now.
    assert _typing_events(sync(bob), room_id)[0]["content"]["user_ids"] == [alice.user_id]
    # Both typing: one list with both.
    _typing(bob, room_id, {"typing": True, "timeout": 20_000})
    body2 = sync(bob, body["next_batch"])
    assert _typing_events(body2, room_id)[0]["content"]["user_ids"] == sorted([alice.user_id, bob.user_id])

    _typing(alice, room_id, {"typing": False})
    _typing(bob, room_id, {"typing": False})
    body3 = sync(bob, body2["next_batch"])
    # The list replaces what the client knew: an empty list is news.
    assert _typing_events(body3, room_id) == [{"type": "m.typing", "content": {"user_ids": []}}]
    # Nobody types: an initial sync carries no m.typing for the room.
    assert _typing_events(sync(bob), room_id) == []


def test_refreshing_the_timeout_is_not_news(alice, bob):
    room_id = _shared_room(alice, bob)
    _typing(alice, room_id, {"typing": True, "timeout": 20_000})
    since = sync(bob)["next_batch"]
    _typing(alice, room_id, {"typing": True, "timeout": 25_000})
    body = sync(bob, since)
    assert _typing_events(body, room_id) == []
    # Stopping when not typing changes nothing either.
    _typing(bob, room_id, {"typing": False})
    assert _typing_events(sync(bob, since), room_id) == []


def test_typing_stops_by_itself_after_the_timeout_and_wakes_the_long_poll(alice, bob):
    room_id = _shared_room(alice, bob)
    _typing(alice, room_id, {"typing": True, "timeout": 1500})
    body = sync(bob)
    assert _typing_events(body, room_id)[0]["content"]["user_ids"] == [alice.user_id]
    # No request from anyone: the writer's timeout loop moves the stream and the long-poll wakes.
    t, out = _sync_in_thread(bob, body["next_batch"], 15_000)
    t.join(10)
    assert not t.is_alive(), "the expiry did not wake the long-poll"
    assert "error" not in out, out
    assert _typing_events(out["body"], room_id) == [{"type": "m.typing", "content": {"user_ids": []}}]
    assert out["elapsed"] < 8
    assert RoomTyping.objects.get(room_id=room_id).typing == {}


def test_long_poll_is_woken_by_typing(alice, bob):
    room_id = _shared_room(alice, bob)
    since = sync(bob)["next_batch"]
    t, out = _sync_in_thread(bob, since, 20_000)
    time.sleep(0.5)
    assert t.is_alive(), out
    _typing(alice, room_id, {"typing": True, "timeout": 20_000})
    t.join(5)
    assert not t.is_alive(), "typing did not wake the long-poll"
    assert "error" not in out, out
    assert _typing_events(out["body"], room_id)[0]["content"]["user_ids"] == [alice.user_id]
    assert out["elapsed"] < 5


def test_timeout_is_capped(alice):
    room_id = create_room(alice)
    before = int(time.time() * 1000)
    assert _typing(alice, room_id, {"typing": True, "timeout": 10 ** 12}).status_code == 200
    expiry = RoomTyping.objects.get(room_id=room_id).typing[alice.user_id]
    assert before < expiry <= int(time.time() * 1000) + handlers.MAX_TIMEOUT_MS
    # No timeout given: the default.
    assert _typing(alice, room_id, {"typing": True}).status_code == 200


def test_only_for_yourself_and_only_in_a_joined_room(alice, bob):
    room_id = create_room(alice)
    assert_error(_typing(alice, room_id, {"typing": True, "timeout": 1000}, user_id=bob.user_id), 403, "M_FORBIDDEN")
    assert_error(_typing(bob, room_id, {"typing": True, "timeout": 1000}), 403, "M_FORBIDDEN")
    assert_error(_typing(bob, "!nowhere:test.local", {"typing": True}), 403, "M_FORBIDDEN")
    # A member who left may no longer type there.
    public = _shared_room(alice, bob)
    bob.post(f"{API}/rooms/{public}/leave")
    assert_error(_typing(bob, public, {"typing": True}), 403, "M_FORBIDDEN")
    assert_error(alice.put(f"{API}/rooms/{room_id}/typing/{alice.user_id}", {"typing": True}, token=None),
                 401, "M_MISSING_TOKEN")


@pytest.mark.parametrize("body,errcode", [
    ({}, "M_MISSING_PARAM"),
    ({"typing": "yes"}, "M_BAD_JSON"),
    ({"typing": True, "timeout": "soon"}, "M_BAD_JSON"),
    ({"typing": True, "timeout": -1}, "M_BAD_JSON"),
    ({"typing": True, "timeout": True}, "M_BAD_JSON"),
])
def test_bad_bodies(alice, body, errcode):
    room_id = create_room(alice)
    assert_error(_typing(alice, room_id, body), 400, errcode)


def test_not_json(alice):
    room_id = create_room(alice)
    resp = alice.request("PUT", f"{API}/rooms/{room_id}/typing/{alice.user_id}", raw=b"{nope")
    assert_error(resp, 400, "M_NOT_JSON")


def test_ephemeral_filter(alice, bob):
    room_id = _shared_room(alice, bob)
    since = sync(bob)["next_batch"]
    _typing(alice, room_id, {"typing": True, "timeout": 20_000})
    for flt in ({"room": {"ephemeral": {"not_types": ["m.typing"]}}},
                {"room": {"ephemeral": {"types": ["m.receipt"]}}},
                {"room": {"ephemeral": {"limit": 0}}},
                {"room": {"ephemeral": {"not_rooms": [room_id]}}}):
        assert _typing_events(sync(bob, since, filter=flt), room_id) == [], flt
    assert _typing_events(sync(bob, since, filter={"room": {"ephemeral": {"types": ["m.typing"]}}}), room_id)


def test_rooms_not_joined_get_no_typing(alice, bob):
    shared = _shared_room(alice, bob)
    private = create_room(alice)
    since = sync(bob)["next_batch"]
    _typing(alice, private, {"typing": True, "timeout": 20_000})
    _typing(alice, shared, {"typing": True, "timeout": 20_000})
    body = sync(bob, since)
    assert private not in body["rooms"]["join"]
    assert _typing_events(body, shared)


def test_typing_costs_no_query_unless_it_changed_and_one_for_all_rooms(alice, bob):
    from django.test.utils import CaptureQueriesContext

    from apps.accounts.auth import authenticate_token
    from apps.streams import replication
    from apps.sync import handlers as sync_handlers
    from apps.sync.filters import SyncFilter

    rooms = [_shared_room(alice, bob) for _ in range(3)]
    for r in rooms:
        _typing(alice, r, {"typing": True, "timeout": 20_000})
    requester = authenticate_token(bob.token)
    state = replication.get_state()
    token = sync_handlers.current_token(state)
    params = sync_handlers.SyncParams(filter=SyncFilter(), since=token)

    def typing_queries() -> tuple[int, dict]:
        with CaptureQueriesContext(connection) as ctx:
            body, _, _ = sync_handlers.sync_once(requester, params, state, want_keys=False)
        return sum("typing_rooms" in q["sql"] for q in ctx.captured_queries), body

    assert typing_queries()[0] == 0
    _typing(bob, rooms[0], {"typing": True, "timeout": 20_000})
    for r in rooms[1:]:
        _typing(alice, r, {"typing": False})
    count, body = typing_queries()
    assert count == 1
    assert [_typing_events(body, r)[0]["content"]["user_ids"] for r in rooms] == [
        sorted([alice.user_id, bob.user_id]), [], []]


def test_stream_rows_for_catch_up(alice, bob):
    from apps.streams import registry

    room_id = _shared_room(alice, bob)
    _typing(alice, room_id, {"typing": True, "timeout": 20_000})
    stream = registry.get("typing")
    [(pos, row)] = stream.fetch_rows(0, 10 ** 12, 100)
    assert row == {"room_id": room_id, "user_ids": [alice.user_id]}
    assert stream.notify_keys(row).room_ids == (room_id,)
    assert stream.fetch_rows(pos, 10 ** 12, 100) == []



def test_entries_left_by_a_previous_run_expire_once_the_writer_serves_again(alice, bob):
    from apps.typing import stores, timeouts

    room_id = _shared_room(alice, bob)
    timeouts.loop().stop()
    # What a previous run of the writer left: an entry due soon, and no loop that knows of it.
    stores.set_typing(room_id, alice.user_id, timeouts.now_ms() + 200, timeouts.now_ms())
    time.sleep(0.3)
    assert not timeouts.loop().running
    assert RoomTyping.objects.get(room_id=room_id).typing  # still there: nobody expired it
    sync(bob)  # the writer serves again
    deadline = time.monotonic() + 10
    while RoomTyping.objects.get(room_id=room_id).typing and time.monotonic() < deadline:
        time.sleep(0.05)
    assert RoomTyping.objects.get(room_id=room_id).typing == {}
    assert stores.next_expiry_ms() is None
