"""The receipts part of `/sync` (`apps.sync.sections`): one `m.receipt` event per joined room in
`rooms.join.<room>.ephemeral.events`, holding the receipts changed in (since, now] (every current
receipt on an initial sync). `m.read.private` receipts are shown to their owner only. Filtered by
`filter.room.ephemeral`. One query, none when the stream has not moved.

The unread-counts section of `apps.push` is registered right after this one: counts depend on the
user's receipts, and it must see the rooms this section adds.
"""
from __future__ import annotations

from typing import Any

from apps.push.sync_sections import fill_unread_counts
from apps.sync import sections

from . import stores


def fill(ctx: sections.SyncContext, response: dict[str, Any]) -> None:
    if not ctx.stream_moved(stores.STREAM):
        return
    ephemeral = ctx.filter.room.ephemeral
    if ephemeral.limit == 0 or not ephemeral.allows("m.receipt", None):
        return
    rooms = [r for r in ctx.joined_rooms if ephemeral.allows_room(r)]
    since = 0 if ctx.initial else ctx.since_position(stores.STREAM)
    content: dict[str, dict[str, Any]] = {}
    for r in stores.receipts_between(rooms, since, ctx.now.position(stores.STREAM)):
        if r.receipt_type == stores.PRIVATE and r.user_id != ctx.user_id:
            continue
        receipt: dict[str, Any] = {"ts": r.ts}
        if r.thread_key:
            receipt["thread_id"] = r.thread_key
        by_event = content.setdefault(r.room_id, {}).setdefault(r.event_id, {})
        by_event.setdefault(r.receipt_type, {})[r.user_id] = receipt
    for room_id, room_content in content.items():
        ctx.room_entry(room_id)["ephemeral"]["events"].append({"type": "m.receipt", "content": room_content})


sections.register("receipts", fill)
sections.register("unread_notifications", fill_unread_counts)
