"""HTTP pushers: one `POST {data.url}` per notification, as the push gateway API says
(`/_matrix/push/v1/notify`, shared/matrix-spec/data/api/push-gateway/push_notifier.yaml).

`notification_body` builds the request from the pushed event, the user's badge count and the pusher;
`send` posts it through the guarded outbound client and says what happened: delivered (with the
pushkeys the gateway rejected), permanently refused (a 4xx other than 429: this notification is
dropped, as retrying cannot help) or failed (network error, 429, 5xx: retried with backoff).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

SEND_TIMEOUT_S = 20.0


@dataclass
class SendResult:
    outcome: str  # "delivered", "refused", "failed"
    rejected: list[str] = field(default_factory=list)
    error: str | None = None


def _tweaks(actions: list) -> dict[str, Any]:
    tweaks: dict[str, Any] = {}
    for action in actions:
        if isinstance(action, dict) and action.get("set_tweak") in ("sound", "highlight"):
            tweaks[action["set_tweak"]] = action.get("value", True if action["set_tweak"] == "highlight" else None)
    return {k: v for k, v in tweaks.items() if v is not None}


def notification_body(pusher, action, event, *, badge: int, room: dict[str, Any]) -> dict[str, Any]:
    """`room`: `name`, `alias` and `sender_display_name` as the room's state says (may be missing)."""
    data = {k: v for k, v in (pusher.data or {}).items() if k not in ("url", "format")}
    device = {"app_id": pusher.app_id, "pushkey": pusher.pushkey, "pushkey_ts": pusher.created_ts // 1000,
              "data": data}
    tweaks = _tweaks(action.actions or [])
    if tweaks:
        device["tweaks"] = tweaks
    prio = "high" if action.highlight or "sound" in tweaks or event.type in ("m.room.encrypted", "m.call.invite") \
        else "low"
    notification: dict[str, Any] = {"event_id": event.event_id, "room_id": event.room_id, "prio": prio,
                                    "counts": {"unread": badge}, "devices": [device]}
    if (pusher.data or {}).get("format") != "event_id_only":
        notification.update({"type": event.type, "sender": event.sender, "content": event.content})
        if room.get("sender_display_name"):
            notification["sender_display_name"] = room["sender_display_name"]
        if room.get("name"):
            notification["room_name"] = room["name"]
        if room.get("alias"):
            notification["room_alias"] = room["alias"]
        if event.type == "m.room.member":
            notification["user_is_target"] = event.state_key == pusher.user_id
    return {"notification": notification}


def send(url: str, body: dict[str, Any]) -> SendResult:
    import httpx

    from apps.core import outbound

    try:
        resp = outbound.client().post(url, json=body, timeout=SEND_TIMEOUT_S)
    except httpx.HTTPError as e:
        return SendResult("failed", error=f"{type(e).__name__}: {e}")
    if resp.status_code == 200:
        try:
            rejected = resp.json().get("rejected") or []
        except (ValueError, AttributeError):
            rejected = []
        return SendResult("delivered", [k for k in rejected if isinstance(k, str)])
    if 400 <= resp.status_code < 500 and resp.status_code != 429:
        return SendResult("refused", error=f"HTTP {resp.status_code}")
    return SendResult("failed", error=f"HTTP {resp.status_code}")
