"""Helpers of the rooms API tests, over the `alice`/`bob` clients."""
from __future__ import annotations

API = "/_matrix/client/v3"


def create_room(client, **body) -> str:
    resp = client.post(f"{API}/createRoom", body)
    assert resp.status_code == 200, resp.json_body
    return resp.json_body["room_id"]


def send(client, room_id: str, body: dict | None = None, *, event_type: str = "m.room.message",
         txn_id: str | None = None):
    import uuid

    txn_id = txn_id or uuid.uuid4().hex
    return client.put(f"{API}/rooms/{room_id}/send/{event_type}/{txn_id}",
                      body if body is not None else {"msgtype": "m.text", "body": "hello"})
