"""Reads of mutual rooms: rooms where two users are both joined (RoomMembership, indexed by user)."""
from __future__ import annotations

from django.db.models import QuerySet

from apps.rooms.models import RoomMembership


def _mutual(user_id: str, other_user_id: str) -> QuerySet:
    theirs = RoomMembership.objects.filter(user_id=other_user_id, membership="join").values("room_id")
    return RoomMembership.objects.filter(user_id=user_id, membership="join", room_id__in=theirs)


def mutual_room_ids(user_id: str, other_user_id: str, *, after: str | None, limit: int) -> list[str]:
    """Up to `limit` IDs of rooms both users are joined to, in room ID order, after `after`."""
    rows = _mutual(user_id, other_user_id)
    if after is not None:
        rows = rows.filter(room_id__gt=after)
    return list(rows.order_by("room_id").values_list("room_id", flat=True)[:limit])


def mutual_room_count(user_id: str, other_user_id: str) -> int:
    return _mutual(user_id, other_user_id).count()
