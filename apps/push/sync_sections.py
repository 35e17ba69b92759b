"""The push parts of `/sync` (`apps.sync.sections`).

- `push_rules`: the `m.push_rules` event in the top-level `account_data.events`, on an initial sync
  and whenever the user's rules changed in (since, now] (spec "Push Rules: Events").
- `unread_notifications`: the counts of every joined room the response lists, and of the rooms whose
  counts changed without anything else to show (the user's own receipt moved, a push action of theirs
  appeared). With `filter.room.timeline.unread_thread_notifications` the per-thread counts go in
  `unread_thread_notifications`. It must see every joined room the response lists: it is registered
  after the receipts section (`apps.receipts.sync_sections`), and a second pass (`fill_late_rooms`,
  registered at the first /sync request, so after every app's sections) counts the rooms that later
  sections (typing) added.
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


def _counted(ctx: sections.SyncContext) -> set[str]:
    counted = ctx.__dict__.get("_unread_counted")
    if counted is None:
        counted = ctx.__dict__["_unread_counted"] = set()
    return counted


def _fill_counts(ctx: sections.SyncContext, response: dict[str, Any], rooms: list[str]) -> None:
    counted = _counted(ctx)
    rooms = [r for r in dict.fromkeys(rooms) if r not in counted]
    if not rooms:
        return
    counted.update(rooms)
    per_thread = bool(ctx.filter.room.timeline.unread_thread_notifications)
    all_counts = counts.unread_counts(ctx.user_id, rooms, ctx.now.position("events"))
    for room_id in rooms:
        room, threads = counts.room_json(all_counts[room_id], per_thread=per_thread)
        entry = response["rooms"]["join"].get(room_id) or ctx.room_entry(room_id)
        entry["unread_notifications"] = room
        if per_thread and (threads or "unread_thread_notifications" in entry):
            entry["unread_thread_notifications"] = threads


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
        rooms += sorted(changed & joined)
    _fill_counts(ctx, response, rooms)


def fill_late_rooms(ctx: sections.SyncContext, response: dict[str, Any]) -> None:
    """The counts of joined rooms that sections running after `fill_unread_counts` added (a room whose
    only news is someone typing still shows its real counts, not the template's zeros)."""
    joined = set(ctx.joined_rooms)
    _fill_counts(ctx, response, [r for r in response["rooms"]["join"] if r in joined])


def _register_late_section(requester, params) -> None:
    # Sections run in registration order, and apps register theirs from `ready()` in app-name order.
    # Registered for the first time at the first /sync request, this one runs after every section of
    # every app (re-registering an existing name keeps its place).
    sections.register("unread_notifications_late", fill_late_rooms)


sections.register("push_rules", fill_push_rules)
sections.register_request_hook("unread_notifications_late", _register_late_section)
