"""Helpers of the sync API tests."""
from __future__ import annotations

import json
from urllib.parse import urlencode

API = "/_matrix/client/v3"


def sync(client, since: str | None = None, *, filter=None, timeout: int | None = None, full_state=None,
         expect: int = 200, **params):
    q: dict = dict(params)
    if since is not None:
        q["since"] = since
    if filter is not None:
        q["filter"] = filter if isinstance(filter, str) else json.dumps(filter)
    if timeout is not None:
        q["timeout"] = str(timeout)
    if full_state is not None:
        q["full_state"] = "true" if full_state else "false"
    resp = client.get(f"{API}/sync" + (f"?{urlencode(q)}" if q else ""))
    assert resp.status_code == expect, (resp.status_code, resp.json_body)
    return resp.json_body


def timeline_ids(body, room_id: str, section: str = "join") -> list[str]:
    return [e["event_id"] for e in body["rooms"][section][room_id]["timeline"]["events"]]


def bodies(body, room_id: str) -> list[str]:
    return [e["content"].get("body") for e in body["rooms"]["join"][room_id]["timeline"]["events"]
            if e["type"] == "m.room.message"]
