"""The push parts of `/sync` (`apps.sync.sections`).

- `push_rules`: the `m.push_rules` event in the top-level `account_data.events`, on an initial sync
  and whenever the user's rules changed in (since, now] (spec "Push Rules: Events").
- `unread_notifications`: the counts of every joined room the response lists, and of the rooms whose
  counts changed without anything else to show (the user's own receipt moved, a push action of theirs
  appeared). With `filter.room.timeline.unread_thread_notifications` the per-thread counts go in
  `unread_thread_notifications`. It must run after every section that may add a joined room: it is
  registered after the receipts section (`apps.receipts.sync_sections`).
"""
from __future__ import annotations

from typing import Any

from apps.sync import sections

from . import counts, handlers, stores


def fill_push_rules(ctx: sections.SyncContext, response: dict[str, Any]) -> None:
    if not ctx.stream_moved(stores.STREAM):
        return
    if not ctx.filter.account_data.allows("m.push_rules", None):
        return
    if not ctx.initial and not stores.rules_changed(ctx.user_id, ctx.since_position(stores.STREAM),
                                                    ctx.now.position(stores.STREAM)):
        return
    response["account_data"]["events"].append({"type": "m.push_rules",
                                                "content": handlers.push_rules_content(ctx.user_id)})


def fill_unread_counts(ctx: sections.SyncContext, response: dict[str, Any]) -> None:
    from apps.receipts import stores as receipt_stores

    joined = set(ctx.joined_rooms)
    rooms = [r for r in response["rooms"]["join"] if r in joined]
    if not ctx.initial:
        changed: set[str] = set()
        if ctx.stream_moved(receipt_stores.STREAM):
            changed |= receipt_stores.rooms_with_own_receipts(
                ctx.user_id, ctx.since_position(receipt_stores.STREAM), ctx.now.position(receipt_stores.STREAM))
        if ctx.stream_moved("events"):
            changed |= stores.rooms_with_actions(ctx.user_id, ctx.since_position("events"), ctx.now.position("events"))
        rooms += [r for r in changed & joined if r not in response["rooms"]["join"]]
    if not rooms:
        return
    per_thread = bool(ctx.filter.room.timeline.unread_thread_notifications)
    all_counts = counts.unread_counts(ctx.user_id, rooms, ctx.now.position("events"))
    for room_id in rooms:
        room, threads = counts.room_json(all_counts[room_id], per_thread=per_thread)
        entry = response["rooms"]["join"].get(room_id) or ctx.room_entry(room_id)
        entry["unread_notifications"] = room
        if per_thread and (threads or "unread_thread_notifications" in entry):
            entry["unread_thread_notifications"] = threads


sections.register("push_rules", fill_push_rules)
