"""Helpers of the reporting tests."""
from __future__ import annotations

from tests.api.rooms.helpers import API, create_room, send


def room_with_message(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    assert bob.post(f"{API}/rooms/{room_id}/join").status_code == 200
    event_id = send(alice, room_id).json_body["event_id"]
    return room_id, event_id


def assert_not_found(resp):
    assert resp.status_code == 404, (resp.status_code, resp.json_body)
    assert resp.json_body["errcode"] == "M_NOT_FOUND"
