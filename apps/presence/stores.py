"""Database access of presence: the `presence` table and its `presence` stream positions.

Only the `presence` stream's writer changes what clients see (`write`, with a position taken in the
transaction and a row `{"user_id", "room_ids"}` published after the commit: the rooms say whose /sync
long-polls the change concerns). Any process may record that a user was seen (`touch_seen`) or that a
/sync asked for a state (`request_state`); the writer's loop turns the latter into a change.
"""
from __future__ import annotations

from typing import Callable, Iterable

from django.db import transaction
from django.db.models import Count, Min, Q

from apps.rooms.models import RoomMembership
from apps.streams.replication import allocate_position, on_commit_publish

from .models import UserPresence
from .states import (ACTIVE_GRANULARITY_MS, IDLE_AFTER_MS, OFFLINE, OFFLINE_AFTER_MS, ONLINE,
                     REMOTE_OFFLINE_AFTER_MS, Presence)

STREAM = "presence"
_FIELDS = ("state", "status_msg", "last_active_ts", "last_seen_ts", "currently_active", "remote")


def _presence(row: UserPresence) -> Presence:
    return Presence(**{f: getattr(row, f) for f in _FIELDS})


def get(user_id: str) -> Presence | None:
    row = UserPresence.objects.filter(user_id=user_id).first()
    return _presence(row) if row is not None else None


def get_with_pending(user_id: str) -> tuple[Presence, str | None] | None:
    row = UserPresence.objects.filter(user_id=user_id).first()
    return (_presence(row), row.pending_state) if row is not None else None


def joined_rooms(user_ids: Iterable[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for user_id, room_id in (RoomMembership.objects.filter(user_id__in=list(user_ids), membership="join")
                             .order_by("room_id").values_list("user_id", "room_id")):
        out.setdefault(user_id, []).append(room_id)
    return out


def write(user_id: str, change: Callable[[Presence, str | None], Presence]) -> int | None:
    """Apply `change(current, pending_state) -> new` to the user's presence in one transaction (writer
    only). A position is taken, and the change published, only when something clients see changed.
    Returns that position, or None."""
    UserPresence.objects.get_or_create(user_id=user_id)
    with transaction.atomic():
        row = UserPresence.objects.select_for_update().get(user_id=user_id)
        before = _presence(row)
        after = change(before, row.pending_state)
        if after == before and row.pending_state is None:
            return None
        for f in _FIELDS:
            setattr(row, f, getattr(after, f))
        row.pending_state = None
        position = None
        if after.visible() != before.visible():
            position = allocate_position(STREAM)
            row.stream_position = position
            rooms = joined_rooms([user_id]).get(user_id, [])
            on_commit_publish(STREAM, position, [{"user_id": user_id, "room_ids": rooms}])
        row.save()
        return position


def touch_seen(user_ids: Iterable[str], now: int) -> int:
    """These users are connected (a /sync of theirs is in progress): the offline timeout restarts."""
    user_ids = list(user_ids)
    if not user_ids:
        return 0
    return UserPresence.objects.filter(user_id__in=user_ids, last_seen_ts__lt=now).update(last_seen_ts=now)


def request_state(user_id: str, state: str, now: int) -> None:
    """A /sync on a process that does not write presence asks for `state` (its `set_presence`)."""
    UserPresence.objects.get_or_create(user_id=user_id)
    UserPresence.objects.filter(user_id=user_id).update(pending_state=state, last_seen_ts=now)


def due_user_ids(now: int, limit: int = 1000) -> list[str]:
    """Users whose presence a timeout changes at `now`, or with a requested state to apply."""
    timed_out = (Q(remote=False) & (Q(last_seen_ts__lt=now - OFFLINE_AFTER_MS)
                                    | Q(state=ONLINE, last_active_ts__lt=now - IDLE_AFTER_MS)
                                    | Q(currently_active=True, last_active_ts__lt=now - ACTIVE_GRANULARITY_MS))
                 | Q(remote=True, last_seen_ts__lt=now - REMOTE_OFFLINE_AFTER_MS))
    return list(UserPresence.objects.filter(Q(pending_state__isnull=False) | (~Q(state=OFFLINE) & timed_out))
                .values_list("user_id", flat=True)[:limit])


def next_deadline() -> int | None:
    """When the next timeout of anyone falls due (now-ish when a requested state waits). One query."""
    agg = UserPresence.objects.aggregate(
        seen=Min("last_seen_ts", filter=~Q(state=OFFLINE) & Q(remote=False)),
        remote_seen=Min("last_seen_ts", filter=~Q(state=OFFLINE) & Q(remote=True)),
        idle=Min("last_active_ts", filter=Q(state=ONLINE, remote=False)),
        active=Min("last_active_ts", filter=Q(currently_active=True, remote=False)),
        pending=Count("user_id", filter=Q(pending_state__isnull=False)))
    due = [agg["seen"] + OFFLINE_AFTER_MS if agg["seen"] is not None else None,
           agg["remote_seen"] + REMOTE_OFFLINE_AFTER_MS if agg["remote_seen"] is not None else None,
           agg["idle"] + IDLE_AFTER_MS if agg["idle"] is not None else None,
           agg["active"] + ACTIVE_GRANULARITY_MS if agg["active"] is not None else None,
           0 if agg["pending"] else None]
    known = [d + 1 for d in due if d is not None]
    return min(known) if known else None


def changed_for(observer: str, room_ids: Iterable[str], since: int, up_to: int) -> list[tuple[str, Presence]]:
    """The presence of the observer and of everyone joined to `room_ids`, for those changed in
    (since, up_to], in stream order. One query."""
    sharing = RoomMembership.objects.filter(room_id__in=list(room_ids), membership="join").values("user_id")
    rows = (UserPresence.objects.filter(stream_position__gt=since, stream_position__lte=up_to)
            .filter(Q(user_id__in=sharing) | Q(user_id=observer)).order_by("stream_position"))
    return [(row.user_id, _presence(row)) for row in rows]


def share_a_room(user_a: str, user_b: str) -> bool:
    rooms_of_a = RoomMembership.objects.filter(user_id=user_a, membership="join").values("room_id")
    return RoomMembership.objects.filter(user_id=user_b, membership="join", room_id__in=rooms_of_a).exists()


def rows_between(from_pos: int, to_pos: int, limit: int) -> list[tuple[int, dict]]:
    """The stream's rows in (from_pos, to_pos] for catch-up (each user's latest change: earlier ones are
    superseded), with the rooms whose members the change concerns."""
    rows = list(UserPresence.objects.filter(stream_position__gt=from_pos, stream_position__lte=to_pos)
                .order_by("stream_position").values_list("stream_position", "user_id")[:limit])
    rooms = joined_rooms(u for _, u in rows)
    return [(pos, {"user_id": user_id, "room_ids": rooms.get(user_id, [])}) for pos, user_id in rows]
