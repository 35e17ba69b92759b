"""Unread notification counts: the user's notifying push actions after their read position.

Spec: client-server API, "Receiving notifications" and "Marking notifications as read". The read
position of a (room, thread) is the most recent of: the user's unthreaded `m.read` / `m.read.private`
receipt (it marks every thread), their threaded receipt of that thread, and the last event they sent
in that thread (sending an event marks what came before it read). Everything is compared by `events`
stream ordering. Counts are computed per thread ("main" being the main timeline); a room's total is
the sum over its threads.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from django.db.models import Q

from . import stores
from .threads import MAIN

# Rooms per counting query (keeps the SQL expression small on every backend).
_CHUNK = 50


@dataclass
class ReadPositions:
    unthreaded: dict[str, int] = field(default_factory=dict)
    threaded: dict[tuple[str, str], int] = field(default_factory=dict)

    def base(self, room_id: str) -> int:
        return self.unthreaded.get(room_id, 0)

    def position(self, room_id: str, thread_id: str) -> int:
        return max(self.base(room_id), self.threaded.get((room_id, thread_id), 0))

    def threads_above_base(self, room_id: str) -> dict[str, int]:
        base = self.base(room_id)
        return {t: p for (r, t), p in self.threaded.items() if r == room_id and p > base}


def read_positions(user_id: str, room_ids: Iterable[str]) -> ReadPositions:
    """Two queries: the user's read receipts and own-event positions in the rooms."""
    from apps.receipts import stores as receipt_stores

    ids = list(dict.fromkeys(room_ids))
    out = ReadPositions()
    for room_id, thread_key, pos in receipt_stores.read_receipts(user_id, ids):
        if thread_key:
            key = (room_id, thread_key)
            out.threaded[key] = max(out.threaded.get(key, 0), pos)
        else:
            out.unthreaded[room_id] = max(out.unthreaded.get(room_id, 0), pos)
    for key, pos in stores.own_event_positions(user_id, ids).items():
        out.threaded[key] = max(out.threaded.get(key, 0), pos)
    return out


@dataclass
class Counts:
    notifications: int = 0
    highlights: int = 0

    def as_json(self) -> dict[str, int]:
        return {"highlight_count": self.highlights, "notification_count": self.notifications}


def _room_condition(room_id: str, reads: ReadPositions) -> Q:
    base = reads.base(room_id)
    above = reads.threads_above_base(room_id)
    q = Q(room_id=room_id, stream_ordering__gt=base)
    if above:
        q &= ~Q(thread_id__in=list(above))
        for thread_id, pos in above.items():
            q |= Q(room_id=room_id, thread_id=thread_id, stream_ordering__gt=pos)
    return q


def unread_counts(user_id: str, room_ids: Iterable[str], up_to: int) -> dict[str, dict[str, Counts]]:
    """room_id -> thread_id -> counts of unread notifications at `up_to`, for every listed room (rooms
    with nothing unread map to an empty dict). 2 + ceil(rooms / 50) queries."""
    ids = list(dict.fromkeys(room_ids))
    out: dict[str, dict[str, Counts]] = {r: {} for r in ids}
    if not ids:
        return out
    reads = read_positions(user_id, ids)
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i:i + _CHUNK]
        cond = Q()
        for room_id in chunk:
            cond |= _room_condition(room_id, reads)
        for room_id, thread_id, n, h in stores.count_actions(user_id, cond, up_to):
            out[room_id][thread_id] = Counts(n, h)
    return out


def room_json(threads: dict[str, Counts], *, per_thread: bool) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """(`unread_notifications`, `unread_thread_notifications`) of a room. With per-thread counts the
    room's counts are those of the main timeline only (sync.yaml, `unread_notifications`)."""
    if per_thread:
        main = threads.get(MAIN, Counts())
        others = {t: c.as_json() for t, c in threads.items() if t != MAIN and c.notifications}
        return main.as_json(), others
    total = Counts(sum(c.notifications for c in threads.values()), sum(c.highlights for c in threads.values()))
    return total.as_json(), {}


def badge_count(user_id: str, up_to: int) -> int:
    """The number of unread notifications over every room the user is joined to (the `counts.unread`
    a push gateway shows as the app's badge)."""
    from apps.rooms.stores import joined_room_ids

    per_room = unread_counts(user_id, joined_room_ids(user_id), up_to)
    return sum(c.notifications for threads in per_room.values() for c in threads.values())
