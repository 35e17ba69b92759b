"""The account-data sections of `/sync` (`apps.sync.sections`): top-level `account_data.events` (global
account data) and `rooms.join.<room>.account_data.events` (room account data, tags as `m.tag`).

What is sent: the rows whose position is in (since, now] (every row up to `now` on an initial or
full-state sync), each as `{"type", "content"}`, filtered by `filter.account_data` (global) and
`filter.room.account_data` (per room, which also names the rooms). Room account data goes to the rooms
the user is joined to, and to the left rooms this response already lists. One query, and none at all when
the stream has not moved since `since` or moved only for other users (`changes`).
"""
from __future__ import annotations

from typing import Any

from apps.sync import sections

from . import stores
from .changes import StreamChanges

# Whose account data changed (the stream moves for every user's writes; most syncs need no query).
changes = StreamChanges(stores.STREAM, lambda row: row.get("user_id"))


def fill(ctx: sections.SyncContext, response: dict[str, Any]) -> None:
    if not ctx.stream_moved(stores.STREAM):
        return
    if not ctx.initial and not changes.may_have_changed(ctx.user_id, ctx.since_position(stores.STREAM),
                                                        ctx.now.position(stores.STREAM)):
        return
    since = 0 if ctx.initial else ctx.since_position(stores.STREAM)
    rows = stores.changed(ctx.user_id, since, ctx.now.position(stores.STREAM))
    if not rows:
        return
    global_filter = ctx.filter.account_data
    room_filter = ctx.filter.room
    joined = set(ctx.joined_rooms)
    left = response["rooms"]["leave"]
    for room_id, data_type, content in rows:
        event = {"type": data_type, "content": content}
        if not room_id:
            if global_filter.allows(data_type, None):
                response["account_data"]["events"].append(event)
            continue
        if not (room_filter.allows_room(room_id) and room_filter.account_data.allows_room(room_id)
                and room_filter.account_data.allows(data_type, None)):
            continue
        if room_id in joined:
            ctx.room_entry(room_id)["account_data"]["events"].append(event)
        elif room_id in left:
            left[room_id].setdefault("account_data", {"events": []})["events"].append(event)


sections.register("account_data", fill)
