"""The rules of typing notifications (client-server API, "Typing Notifications").

- `PUT /rooms/{roomId}/typing/{userId}`: only for oneself, only in a room one is joined to. A typing
  user stays typing until the timeout (capped at `MAX_TIMEOUT_MS`, as servers do, so a client that
  vanishes cannot stay "typing" for hours) or until they say they stopped.
- `/sync`: `rooms.join.<room>.ephemeral.events` gets an `m.typing` event with the room's whole list of
  typing users for every joined room whose list changed since `since` (every room where someone types,
  on an initial sync). The list REPLACES what the client knew, so an empty list is news too.
- Federation (server-server API, "Typing Notifications"): an `m.typing` EDU sets a remote user's typing
  state when the user belongs to the sending server and is in the room; it lasts `FEDERATION_TIMEOUT_MS`
  unless the remote server says the user stopped.

The state lives in `typing_rooms` and is written only by the `typing` stream's writer (`writes="typing"`
in the routing table sends the request there); the writer's timeout loop (`timeouts`) expires entries.
"""
from __future__ import annotations

import logging
from typing import Any

from apps.core.errors import Codes, MatrixError
from apps.core.ids import server_name_of
from apps.rooms import stores as room_stores
from hsproject import instance

from . import stores, timeouts

logger = logging.getLogger(__name__)

STREAM = "typing"
# Synapse caps a typing timeout at 30 s too; the spec recommends clients refresh every 20-30 s.
MAX_TIMEOUT_MS = 30_000
DEFAULT_TIMEOUT_MS = 30_000
# A remote server sends no timeout: its users are typing until it says otherwise or this long passes
# (it repeats the EDU while its client keeps refreshing).
FEDERATION_TIMEOUT_MS = 60_000


def set_typing(requester, room_id: str, user_id: str, typing: bool, timeout_ms: int | None) -> None:
    if user_id != requester.user_id:
        raise MatrixError(Codes.FORBIDDEN, "Cannot set the typing state of another user", 403)
    membership = room_stores.membership_of(room_id, user_id)
    if membership is None or membership[0] != "join":
        raise MatrixError(Codes.FORBIDDEN, "You are not joined to this room", 403)
    if not instance.writes(STREAM):
        # The routing table marks the endpoint `writes="typing"`: the request is sent to the writer.
        raise MatrixError(Codes.UNKNOWN, "This process does not write typing notifications; "
                          "route typing requests to the 'typing' stream writer", 500)
    _write(room_id, user_id, min(DEFAULT_TIMEOUT_MS if timeout_ms is None else timeout_ms, MAX_TIMEOUT_MS)
           if typing else None)


def _write(room_id: str, user_id: str, timeout_ms: int | None) -> None:
    loop = timeouts.loop()
    loop.start()
    now = timeouts.now_ms()
    if timeout_ms is not None:
        expires = now + timeout_ms
        stores.set_typing(room_id, user_id, expires, now)
        loop.schedule(expires)
    else:
        stores.set_typing(room_id, user_id, None, now)


def on_typing_edu(origin: str, content: dict) -> None:
    """An `m.typing` EDU from `origin` (an `apps.federation.edus` handler; room ACLs already applied)."""
    room_id, user_id, typing = content.get("room_id"), content.get("user_id"), content.get("typing")
    if not isinstance(room_id, str) or not isinstance(user_id, str) or not isinstance(typing, bool):
        return
    if not user_id.startswith("@") or server_name_of(user_id) != origin:
        logger.info("typing EDU from %s for %s ignored: not one of its users", origin, user_id)
        return
    membership = room_stores.membership_of(room_id, user_id)
    if membership is None or membership[0] != "join":
        return
    if not instance.writes(STREAM):
        # EDUs are not retried: without a way to hand it to the writer the notification is dropped.
        logger.info("typing EDU from %s dropped: this process does not write typing", origin)
        return
    _write(room_id, user_id, FEDERATION_TIMEOUT_MS if typing else None)


def typing_event(user_ids: list[str]) -> dict[str, Any]:
    return {"type": "m.typing", "content": {"user_ids": user_ids}}


def fill_sync(ctx, response: dict[str, Any]) -> None:
    """The `m.typing` events of `/sync` (an `apps.sync.sections` fill). No query when the stream has not
    moved since `since`."""
    if instance.writes(STREAM):
        # After a restart of the writer, typing entries left in the table expire without waiting for the
        # next typing request.
        timeouts.loop().start()
    if not ctx.stream_moved(STREAM) or not ctx.joined_rooms:
        return
    ephemeral = ctx.filter.room.ephemeral
    if ephemeral.limit == 0 or not ephemeral.allows("m.typing", None):
        return
    rooms = [r for r in ctx.joined_rooms if ephemeral.allows_room(r)]
    since = 0 if ctx.initial else ctx.since_position(STREAM)
    now = timeouts.now_ms()
    for room_id, typing in stores.changed_rooms(rooms, since, ctx.now.position(STREAM)):
        # An entry past its timeout is not shown even if the writer's loop has not removed it yet.
        user_ids = sorted(u for u, e in (typing or {}).items() if e > now)
        if ctx.initial and not user_ids:
            continue
        ctx.room_entry(room_id)["ephemeral"]["events"].append(typing_event(user_ids))
