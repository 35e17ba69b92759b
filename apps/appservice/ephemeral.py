"""Ephemeral data for services with `receive_ephemeral` (spec: application-service API, "Pushing
ephemeral data"): `m.typing`, `m.receipt` and `m.presence`, read from the `typing`, `receipts` and
`presence` streams through their registered `fetch_rows` (apps.streams.registry), from the service's own
durable position in each stream.

Interest follows the events' rules: typing and receipts of rooms the service is interested in (its rooms
or aliases namespaces, or a joined member in its users namespace), private read receipts only of the
service's own users; presence of its users and of users sharing an interesting room with them.
A service's first look at a stream starts at the stream's current position (no history is replayed).
"""
from __future__ import annotations

import logging
import time
from typing import Any

from hsproject.config.appservices import AppServiceRegistration

from . import registry, stores

logger = logging.getLogger(__name__)

STREAMS = ("typing", "receipts", "presence")
LIMIT = 100
PRIVATE_RECEIPT = "m.read.private"


def available_streams() -> list[str]:
    from apps.streams import registry as stream_registry

    out = []
    for name in STREAMS:
        try:
            if stream_registry.get(name).fetch_rows is not None:
                out.append(name)
        except KeyError:
            continue
    return out


def _rooms_of_interest(service: AppServiceRegistration, room_ids: set[str]) -> set[str]:
    from .transactions import room_interest

    members = stores.joined_members(room_ids)
    aliases = stores.local_aliases(room_ids)
    return {r for r in room_ids if room_interest(service, r, members.get(r, []), aliases.get(r, []))}


def collect(service: AppServiceRegistration, positions: dict[str, int]) -> tuple[list[dict], dict[str, int]]:
    """The ephemeral events after `positions`, and the positions they take the service to."""
    from apps.streams import registry as stream_registry

    out: list[dict] = []
    new_positions = dict(positions)
    for name in available_streams():
        up_to = stores.persisted_up_to(name)
        start = positions.get(name)
        if start is None or start > up_to:
            new_positions[name] = up_to
            continue
        if start == up_to:
            continue
        rows = stream_registry.get(name).fetch_rows(start, up_to, LIMIT)
        new_positions[name] = rows[-1][0] if len(rows) >= LIMIT else up_to
        try:
            out.extend(_convert(service, name, [r for _, r in rows]))
        except Exception:  # one stream's surprise must not stop the events
            logger.exception("ephemeral %s rows for application service %s could not be read", name, service.id)
    return out, new_positions


def has_pending(positions: dict[str, int]) -> bool:
    return any(positions.get(n) is not None and positions[n] < stores.persisted_up_to(n) for n in available_streams())


def _convert(service: AppServiceRegistration, stream: str, rows: list[dict[str, Any]]) -> list[dict]:
    if not rows:
        return []
    if stream == "typing":
        latest = {r["room_id"]: r.get("user_ids") or [] for r in rows if isinstance(r.get("room_id"), str)}
        wanted = _rooms_of_interest(service, set(latest))
        return [{"type": "m.typing", "room_id": room, "content": {"user_ids": list(users)}}
                for room, users in latest.items() if room in wanted]
    if stream == "receipts":
        wanted = _rooms_of_interest(service, {r["room_id"] for r in rows if isinstance(r.get("room_id"), str)})
        by_room: dict[str, dict] = {}
        for r in rows:
            room, user, rtype = r.get("room_id"), r.get("user_id"), r.get("receipt_type")
            if room not in wanted:
                continue
            if rtype == PRIVATE_RECEIPT and not registry.is_user_in_namespace(service, user):
                continue  # spec: private receipts only of the service's own users
            receipt: dict[str, Any] = {"ts": r.get("ts")}
            if r.get("thread_id"):
                receipt["thread_id"] = r["thread_id"]
            by_room.setdefault(room, {}).setdefault(r["event_id"], {}).setdefault(rtype, {})[user] = receipt
        return [{"type": "m.receipt", "room_id": room, "content": content} for room, content in by_room.items()]
    if stream == "presence":
        return _presence(service, rows)
    return []


def _presence(service: AppServiceRegistration, rows: list[dict[str, Any]]) -> list[dict]:
    from apps.presence import states as presence
    from apps.presence import stores as presence_stores

    rooms = {room for r in rows for room in (r.get("room_ids") or []) if isinstance(room, str)}
    wanted_rooms = _rooms_of_interest(service, rooms)
    now = int(time.time() * 1000)
    out = []
    for user_id in dict.fromkeys(r.get("user_id") for r in rows):
        if not isinstance(user_id, str):
            continue
        row_rooms = next((r.get("room_ids") or [] for r in reversed(rows) if r.get("user_id") == user_id), [])
        if not registry.is_user_in_namespace(service, user_id) and not wanted_rooms.intersection(row_rooms):
            continue
        current = presence_stores.get(user_id)
        if current is None:
            continue
        out.append({"type": "m.presence", "sender": user_id,
                    "content": presence.content(presence.after_timeouts(current, now), now)})
    return out
