"""GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event (getEventByTimestamp)."""
from __future__ import annotations

from tests.api.rooms.helpers import create_room, send
from tests.api.rooms.test_history_visibility import set_hv
from tests.conftest import assert_error

V1 = "/_matrix/client/v1"


def ts_to_event(client, room_id, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return client.get(f"{V1}/rooms/{room_id}/timestamp_to_event?{query}")


def _event(client, room_id, event_id):
    return client.get(f"/_matrix/client/v3/rooms/{room_id}/event/{event_id}").json_body


def test_closest_event_each_way(alice):
    room_id = create_room(alice, preset="public_chat")
    ids = [send(alice, room_id, {"msgtype": "m.text", "body": str(i)}).json_body["event_id"] for i in range(3)]
    middle = _event(alice, room_id, ids[1])["origin_server_ts"]
    body = ts_to_event(alice, room_id, ts=middle, dir="f").json_body
    assert body["origin_server_ts"] >= middle
    assert body["event_id"] in ids[1:]
    body = ts_to_event(alice, room_id, ts=middle, dir="b").json_body
    assert body["origin_server_ts"] <= middle
    last = ts_to_event(alice, room_id, ts=10**15, dir="b").json_body
    assert last["event_id"] == ids[2]
    first = ts_to_event(alice, room_id, ts=0, dir="f").json_body
    assert _event(alice, room_id, first["event_id"])["type"] == "m.room.create"


def test_none_found(alice):
    room_id = create_room(alice, preset="public_chat")
    err = assert_error(ts_to_event(alice, room_id, ts=10**15, dir="f"), 404, "M_NOT_FOUND")
    assert "forward" in err["error"]
    assert_error(ts_to_event(alice, room_id, ts=0, dir="b"), 404, "M_NOT_FOUND")


def test_errors(alice, bob, mx):
    room_id = create_room(alice, preset="public_chat")
    assert_error(ts_to_event(alice, room_id, dir="f"), 400, "M_MISSING_PARAM")
    assert_error(ts_to_event(alice, room_id, ts=1), 400, "M_MISSING_PARAM")
    assert_error(ts_to_event(alice, room_id, ts="soon", dir="f"), 400, "M_INVALID_PARAM")
    assert_error(ts_to_event(alice, room_id, ts=1, dir="up"), 400, "M_INVALID_PARAM")
    assert_error(ts_to_event(alice, "nope", ts=1, dir="f"), 400, "M_INVALID_PARAM")
    assert_error(ts_to_event(bob, room_id, ts=1, dir="f"), 403, "M_FORBIDDEN")
    assert_error(ts_to_event(mx, room_id, ts=1, dir="f"), 401, "M_MISSING_TOKEN")


def test_world_readable_for_non_members(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    set_hv(alice, room_id, "world_readable")
    ev = send(alice, room_id).json_body["event_id"]
    assert ts_to_event(bob, room_id, ts=10**15, dir="b").json_body["event_id"] == ev
