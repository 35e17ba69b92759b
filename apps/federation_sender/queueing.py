"""Filling the outbox: the PDUs of local events, and the EDUs of local users (typing, receipts,
to-device messages), each for the servers that should hear of them.

PDUs: in the transaction that persists an event in a room's timeline whose sender is one of ours, one row
per other server with a joined member in the room after the event (so a remote user's join makes its
server a destination of what follows), plus the server of a remote user that the event removes (a kick
or ban reaches the kicked server). Events of other servers are never relayed: their origin sends them.

Typing, receipts and presence: read from the `typing`, `receipts` and `presence` streams on the process
that writes them (so each change is queued once), for the other servers in the room (presence: in any
room the user is joined to). A typing change becomes one `m.typing` EDU per local user whose state
changed; a public receipt of a local user one `m.receipt` EDU (private receipts never leave the server,
spec "Receipts"); a local user's presence change one `m.presence` EDU. Each replaces the same user's
pending EDU of its kind (and room).
"""
from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings
from django.db import transaction

from apps.core.ids import server_name_of
from apps.rooms.persister import PersistedEvent, on_event_persisting
from apps.streams.replication import add_process_listener

from . import stores

logger = logging.getLogger(__name__)

RECEIPT_TYPES_SENT = ("m.read",)


def _is_local(user_id: str) -> bool:
    return server_name_of(user_id) == settings.HS.server_name


def _remote(servers) -> set[str]:
    from apps.core.outbound import federation_allowed

    return {s for s in servers if s and s != settings.HS.server_name and federation_allowed(s)}


@on_event_persisting
def _queue_event(persisted: PersistedEvent) -> None:
    event = persisted.event
    meta = event.internal
    if (persisted.stream_ordering is None or meta.outlier or event.rejected or meta.soft_failed
            or not _is_local(event.sender)):
        return
    from .delivery import sending_enabled

    if not sending_enabled():
        return
    servers = stores.joined_servers(event.room_id)
    if event.type == "m.room.member" and event.state_key and event.membership in ("leave", "ban"):
        servers.add(server_name_of(event.state_key))
    destinations = _remote(servers)
    if not destinations:
        return
    stores.queue_pdu(destinations, persisted.stream_ordering, event.event_id)

    def wake() -> None:
        from .wakeups import wake_all

        wake_all(destinations)
    transaction.on_commit(wake)


# --- typing and receipts, from their streams --------------------------------------------------------------

# room_id -> the local users last seen typing there (this process is the one writer of `typing`).
_typing_seen: dict[str, set[str]] = {}
_typing_lock = threading.Lock()


def _typing_edus(room_id: str, user_ids: list[str]) -> list[tuple[str, dict]]:
    now = {u for u in user_ids if isinstance(u, str) and _is_local(u)}
    with _typing_lock:
        before = _typing_seen.get(room_id, set())
        if now:
            _typing_seen[room_id] = now
        else:
            _typing_seen.pop(room_id, None)
    changed = [(u, True) for u in sorted(now - before)] + [(u, False) for u in sorted(before - now)]
    return [(f"typing:{room_id}:{u}", {"room_id": room_id, "user_id": u, "typing": typing}) for u, typing in changed]


def _receipt_edu(row: dict) -> tuple[str, dict] | None:
    user, room, rtype, event_id = row.get("user_id"), row.get("room_id"), row.get("receipt_type"), row.get("event_id")
    if rtype not in RECEIPT_TYPES_SENT or not isinstance(user, str) or not _is_local(user) or not isinstance(room, str):
        return None
    data: dict[str, Any] = {"ts": row.get("ts")}
    if row.get("thread_id"):
        data["thread_id"] = row["thread_id"]
    content = {room: {rtype: {user: {"event_ids": [event_id], "data": data}}}}
    return f"receipt:{room}:{rtype}:{user}:{row.get('thread_id') or ''}", content


def _presence_edu(user_id: str) -> tuple[str, dict] | None:
    """The user's presence now as an `m.presence` push (spec: server-server API, "Presence")."""
    from apps.presence import stores as presence_stores
    from apps.presence.states import after_timeouts, content

    current = presence_stores.get(user_id)
    if current is None or current.remote:
        return None
    now = stores.now_ms()
    item = {"user_id": user_id, "last_active_ago": 0, "currently_active": False,
            **content(after_timeouts(current, now), now)}
    return f"presence:{user_id}", {"push": [item]}


def _on_stream(stream: str, _instance: str, _position: int, rows) -> None:
    if stream not in ("typing", "receipts", "presence") or not rows:
        return
    from hsproject import instance

    from .delivery import sending_enabled

    if not instance.writes(stream) or not sending_enabled():
        return
    queued: list[tuple[str, str, str, dict]] = []  # (room, edu_type, key, content)
    for _pos, row in rows:
        if stream == "presence":
            user_id, room_ids = row.get("user_id"), row.get("room_ids")
            if isinstance(user_id, str) and _is_local(user_id) and isinstance(room_ids, list):
                edu = _presence_edu(user_id)
                if edu is not None:
                    queued += [(r, "m.presence", edu[0], edu[1]) for r in room_ids if isinstance(r, str)]
        elif stream == "typing":
            room_id = row.get("room_id")
            if isinstance(room_id, str):
                queued += [(room_id, "m.typing", k, c) for k, c in _typing_edus(room_id, row.get("user_ids") or [])]
        else:
            edu = _receipt_edu(row)
            if edu is not None:
                queued.append((row["room_id"], "m.receipt", edu[0], edu[1]))
    if not queued:
        return
    servers = stores.rooms_joined_servers({room for room, _, _, _ in queued})
    woken: set[str] = set()
    done: set[tuple[str, str]] = set()
    for room_id, edu_type, key, content in queued:
        for destination in _remote(servers.get(room_id, ())) - {d for d, k in done if k == key}:
            stores.queue_edu(destination, edu_type, content, key)
            done.add((destination, key))
            woken.add(destination)
    from .wakeups import wake_all

    wake_all(woken)


add_process_listener(_on_stream)


# --- to-device messages (called by apps.to_device) ----------------------------------------------------------

def queue_to_device(sender: str, message_type: str, message_id: str,
                    by_server: dict[str, dict[str, dict[str, Any]]]) -> None:
    """One `m.direct_to_device` EDU per destination (spec: server-server API, "Send-to-device
    messaging"); `by_server` is {server: {user_id: {device_id: content}}}."""
    from .delivery import sending_enabled

    if not sending_enabled():
        logger.info("to-device %s from %s not sent: send_federation is off", message_type, sender)
        return
    allowed = _remote(by_server)
    for server, messages in by_server.items():
        if server not in allowed:
            continue
        stores.queue_edu(server, "m.direct_to_device", {"sender": sender, "type": message_type,
                                                         "message_id": message_id, "messages": messages})

    def wake() -> None:
        from .wakeups import wake_all

        wake_all(allowed)
    transaction.on_commit(wake)
