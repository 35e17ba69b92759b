"""Helpers of the delayed-events tests, over the `alice`/`bob` clients."""
from __future__ import annotations

import uuid
from urllib.parse import quote

from apps.delayed_events.handlers import send_due
from tests.api.rooms.helpers import API

MAX_DELAY_MS = 86_400_000
DELAYED = "/_matrix/client/unstable/org.matrix.msc4140/delayed_events"
PARAM = "org.matrix.msc4140.delay"


def schedule_message(client, room_id: str, delay, body: str = "later", *, txn_id: str | None = None,
                     event_type: str = "m.room.message"):
    txn_id = txn_id or uuid.uuid4().hex
    return client.put(f"{API}/rooms/{room_id}/send/{event_type}/{txn_id}?{PARAM}={quote(str(delay))}",
                      {"msgtype": "m.text", "body": body})


def schedule_state(client, room_id: str, event_type: str, state_key: str, content: dict, delay):
    return client.put(f"{API}/rooms/{room_id}/state/{event_type}/{quote(state_key)}?{PARAM}={quote(str(delay))}",
                      content)


def pending(client) -> list[dict]:
    resp = client.get(DELAYED)
    assert resp.status_code == 200, resp.json_body
    return resp.json_body["delayed_events"]


def pending_one(client, delay_id: str) -> dict:
    [entry] = [e for e in pending(client) if e["delay_id"] == delay_id]
    return entry


def act(client, delay_id: str, action):
    return client.post(f"{DELAYED}/{quote(delay_id)}", {"action": action})


def due_at(client, delay_id: str) -> int:
    entry = pending_one(client, delay_id)
    return entry["running_since"] + entry["delay"]


def sweep(now_ms: int) -> dict:
    """The `background.send_delayed_events` task's work, on a simulated clock."""
    return send_due(now_ms)


def timeline(client, room_id: str, limit: int = 50) -> list[dict]:
    resp = client.get(f"{API}/rooms/{room_id}/messages?dir=b&limit={limit}")
    assert resp.status_code == 200, resp.json_body
    return list(reversed(resp.json_body["chunk"]))


def bodies(client, room_id: str) -> list[str]:
    return [e["content"].get("body") for e in timeline(client, room_id) if e["type"] == "m.room.message"]
