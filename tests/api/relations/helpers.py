"""Helpers of the relations tests: sending children of an event and reading /relations and /threads."""
from __future__ import annotations

from urllib.parse import quote, urlencode

from tests.api.rooms.helpers import API, create_room, send  # noqa: F401

V1 = "/_matrix/client/v1"


def send_id(client, room_id: str, body: dict | None = None, **kw) -> str:
    resp = send(client, room_id, body, **kw)
    assert resp.status_code == 200, resp.json_body
    return resp.json_body["event_id"]


def text(body: str, **extra) -> dict:
    return {"msgtype": "m.text", "body": body, **extra}


def in_thread(root: str, body: str) -> dict:
    return text(body, **{"m.relates_to": {"rel_type": "m.thread", "event_id": root}})


def edit(original: str, new_body: str) -> dict:
    return text(f"* {new_body}", **{"m.new_content": text(new_body),
                                    "m.relates_to": {"rel_type": "m.replace", "event_id": original}})


def reference(parent: str) -> dict:
    return text("ref", **{"m.relates_to": {"rel_type": "m.reference", "event_id": parent}})


def reaction(parent: str, key: str = "👍") -> dict:
    return {"m.relates_to": {"rel_type": "m.annotation", "event_id": parent, "key": key}}


def relations(client, room_id: str, event_id: str, *path: str, **params):
    url = f"{V1}/rooms/{quote(room_id)}/relations/{quote(event_id)}"
    for p in path:
        url += "/" + quote(p, safe="")
    if params:
        url += "?" + urlencode(params)
    return client.get(url)


def threads(client, room_id: str, **params):
    url = f"{V1}/rooms/{quote(room_id)}/threads"
    if params:
        url += "?" + urlencode(params)
    return client.get(url)


def get_event(client, room_id: str, event_id: str) -> dict:
    resp = client.get(f"{API}/rooms/{quote(room_id)}/event/{quote(event_id)}")
    assert resp.status_code == 200, resp.json_body
    return resp.json_body


def ids(chunk: list[dict]) -> list[str]:
    return [e["event_id"] for e in chunk]
