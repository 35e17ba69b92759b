"""Database access of typing notifications: the per-room typing sets and their `typing` stream positions.

Writes happen only on the `typing` stream's writer (one instance, `stream_writers.typing`); each visible
change takes a position inside its transaction and publishes the room's new list after the commit.
"""
from __future__ import annotations

from typing import Iterable

from django.db import transaction
from django.db.models import Min

from apps.streams.replication import allocate_position, on_commit_publish

from .models import RoomTyping

STREAM = "typing"


def _visible(typing: dict[str, int]) -> list[str]:
    return sorted(typing)


def _write(room_id: str, change, *, create: bool = False) -> int | None:
    """Apply `change(current) -> new` to the room's typing map in one transaction. A new position is taken
    (and the room's list published) only when the set of typing users changes; a refreshed timeout alone
    is stored silently. Returns the new position, or None when nothing visible changed."""
    if create:
        RoomTyping.objects.get_or_create(room_id=room_id)
    with transaction.atomic():
        row = RoomTyping.objects.select_for_update().filter(room_id=room_id).first()
        if row is None:
            return None
        before = dict(row.typing or {})
        after = change(before)
        if after == before:
            return None
        row.typing = after
        row.next_expiry_ms = min(after.values()) if after else None
        position = None
        if set(after) != set(before):
            position = allocate_position(STREAM)
            row.stream_position = position
            on_commit_publish(STREAM, position, [{"room_id": room_id, "user_ids": _visible(after)}])
        row.save(update_fields=["typing", "next_expiry_ms", "stream_position"])
        return position


def set_typing(room_id: str, user_id: str, expires_at_ms: int | None, now_ms: int) -> int | None:
    """`user_id` types in `room_id` until `expires_at_ms`, or stopped (None). Entries already expired at
    `now_ms` are dropped on the way."""

    def change(current: dict[str, int]) -> dict[str, int]:
        out = {u: e for u, e in current.items() if e > now_ms and u != user_id}
        if expires_at_ms is not None:
            out[user_id] = expires_at_ms
        return out
    return _write(room_id, change, create=expires_at_ms is not None)


def expire_due(now_ms: int) -> int:
    """Remove every typing entry expired at `now_ms` (each room moves the stream). Returns how many rooms
    changed."""
    rooms = list(RoomTyping.objects.filter(next_expiry_ms__lte=now_ms).values_list("room_id", flat=True))
    changed = 0
    for room_id in rooms:
        if _write(room_id, lambda current: {u: e for u, e in current.items() if e > now_ms}) is not None:
            changed += 1
    return changed


def next_expiry_ms() -> int | None:
    return RoomTyping.objects.aggregate(m=Min("next_expiry_ms"))["m"]


def changed_rooms(room_ids: Iterable[str], since: int, up_to: int) -> list[tuple[str, dict[str, int]]]:
    """(room_id, {user_id: expiry}) of the given rooms whose typing list changed in (since, up_to]."""
    room_ids = list(room_ids)
    if not room_ids:
        return []
    return list(RoomTyping.objects.filter(room_id__in=room_ids, stream_position__gt=since,
                                          stream_position__lte=up_to)
                .order_by("stream_position").values_list("room_id", "typing"))


def rows_between(from_pos: int, to_pos: int, limit: int) -> list[tuple[int, dict]]:
    """The stream's rows in (from_pos, to_pos] for catch-up: each changed room's latest list (earlier
    changes of the same room are superseded, which is all a reader needs)."""
    rows = (RoomTyping.objects.filter(stream_position__gt=from_pos, stream_position__lte=to_pos)
            .order_by("stream_position").values_list("stream_position", "room_id", "typing")[:limit])
    return [(pos, {"room_id": room_id, "user_ids": _visible(typing or {})}) for pos, room_id, typing in rows]
