"""Every query of receipts: the upsert of a user's receipt (taking its `receipts` position inside the
transaction), the receipts of rooms changed in a stream range, a user's read positions."""
from __future__ import annotations

from typing import Any, Iterable

from django.db import IntegrityError, transaction

from apps.streams.replication import allocate_position, on_commit_publish

from .models import Receipt

STREAM = "receipts"
PRIVATE = "m.read.private"
READ_TYPES = ("m.read", "m.read.private")


def stream_row(r: Receipt) -> dict[str, Any]:
    return {"room_id": r.room_id, "user_id": r.user_id, "receipt_type": r.receipt_type, "event_id": r.event_id,
            "thread_id": r.thread_key or None, "ts": r.ts}


def upsert(room_id: str, user_id: str, receipt_type: str, thread_key: str, event_id: str,
           event_stream_ordering: int, ts: int) -> int | None:
    """Move the user's receipt forward to `event_id`; returns the new `receipts` position, or None when
    the stored receipt is already at or past that event (receipts only move forward, so notification
    counts never rewind: spec "Marking notifications as read")."""
    for _ in range(3):
        try:
            with transaction.atomic():
                row = (Receipt.objects.select_for_update()
                       .filter(room_id=room_id, user_id=user_id, receipt_type=receipt_type, thread_key=thread_key)
                       .first())
                if row is not None and row.event_stream_ordering >= event_stream_ordering:
                    return None
                position = allocate_position(STREAM)
                if row is None:
                    row = Receipt(room_id=room_id, user_id=user_id, receipt_type=receipt_type, thread_key=thread_key)
                row.event_id, row.event_stream_ordering, row.ts, row.stream_id = (
                    event_id, event_stream_ordering, ts, position)
                row.save()
                on_commit_publish(STREAM, position, [stream_row(row)])
                return position
        except IntegrityError:
            continue  # a concurrent first receipt of the same key: read it again
    raise RuntimeError(f"could not store the {receipt_type} receipt of {user_id} in {room_id}")


def receipts_between(room_ids: Iterable[str], since: int, up_to: int) -> list[Receipt]:
    """The receipts of `room_ids` last changed in (since, up_to] (all current ones when since is 0)."""
    ids = list(room_ids)
    if not ids:
        return []
    return list(Receipt.objects.filter(room_id__in=ids, stream_id__gt=since, stream_id__lte=up_to)
                .order_by("stream_id"))


def read_receipts(user_id: str, room_ids: Iterable[str]) -> list[tuple[str, str, int]]:
    """(room_id, thread_key, event_stream_ordering) of the user's m.read and m.read.private receipts."""
    ids = list(room_ids)
    if not ids:
        return []
    return list(Receipt.objects.filter(user_id=user_id, room_id__in=ids, receipt_type__in=READ_TYPES)
                .values_list("room_id", "thread_key", "event_stream_ordering"))


def rooms_with_own_receipts(user_id: str, since: int, up_to: int) -> set[str]:
    return set(Receipt.objects.filter(user_id=user_id, stream_id__gt=since, stream_id__lte=up_to)
               .values_list("room_id", flat=True))


def fetch_rows(from_pos: int, to_pos: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
    rows = Receipt.objects.filter(stream_id__gt=from_pos, stream_id__lte=to_pos).order_by("stream_id")[:limit]
    return [(r.stream_id, stream_row(r)) for r in rows]
