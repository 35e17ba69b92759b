"""Helpers of the message-retention tests."""
from __future__ import annotations

from tests.api.rooms.helpers import API, send

DAY = 86_400_000


def set_policy(client, room_id: str, content: dict) -> str:
    resp = client.put(f"{API}/rooms/{room_id}/state/m.room.retention", content)
    assert resp.status_code == 200, resp.json_body
    return resp.json_body["event_id"]


def say(client, room_id: str, body: str) -> str:
    resp = send(client, room_id, {"msgtype": "m.text", "body": body})
    assert resp.status_code == 200, resp.json_body
    return resp.json_body["event_id"]


def messages(client, room_id: str, **params) -> list[dict]:
    query = "&".join(f"{k}={v}" for k, v in {"dir": "b", "limit": 100, **params}.items())
    resp = client.get(f"{API}/rooms/{room_id}/messages?{query}")
    assert resp.status_code == 200, resp.json_body
    return resp.json_body["chunk"]


def message_bodies(chunk: list[dict]) -> list[str]:
    return sorted(e["content"]["body"] for e in chunk if e["type"] == "m.room.message")
