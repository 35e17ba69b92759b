"""Helpers of the admin API and jobs tests."""
from __future__ import annotations

from urllib.parse import quote

from apps.accounts.models import User
from apps.rooms.models import EventRow
from tests.api.rooms.helpers import API, send

ADMIN = "/_synapse/admin/v1"


def make_admin(client_factory, localpart: str):
    client = client_factory()
    client.register(localpart)
    User.objects.filter(localpart=localpart).update(admin=True)
    return client


def purge(client, room_id: str, body: dict | None = None, *, event_id: str | None = None):
    path = f"{ADMIN}/purge_history/{quote(room_id)}" + (f"/{quote(event_id)}" if event_id else "")
    return client.post(path, body if body is not None else {})


def purge_status(client, purge_id: str):
    return client.get(f"{ADMIN}/purge_history_status/{quote(purge_id)}")


def say(client, room_id: str, text: str) -> str:
    resp = send(client, room_id, {"msgtype": "m.text", "body": text})
    assert resp.status_code == 200, resp.json_body
    return resp.json_body["event_id"]


def messages(client, room_id: str, limit: int = 100) -> list[dict]:
    resp = client.get(f"{API}/rooms/{room_id}/messages?dir=b&limit={limit}")
    assert resp.status_code == 200, resp.json_body
    return resp.json_body["chunk"]


def message_bodies(client, room_id: str) -> list[str]:
    return [e["content"].get("body") for e in reversed(messages(client, room_id)) if e["type"] == "m.room.message"]


def stored(event_id: str) -> bool:
    return EventRow.objects.filter(event_id=event_id).exists()
