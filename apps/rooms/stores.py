"""Reads of rooms and events (writes are the persister's): events by ID, forward extremities,
memberships, transaction ids. Events come back as `Event` objects with their internal metadata."""
from __future__ import annotations

import json
from typing import Iterable

from .events import Event, InternalMetadata
from .models import EventRow, ForwardExtremity, Room, RoomMembership, TxnId
from .room_versions import get_room_version

# At most this many prev_events for a new local event (the spec allows 20; Synapse uses 10).
MAX_PREV_EVENTS = 10

_EVENT_FIELDS = ("event_id", "room_version", "json", "outlier", "rejected_reason", "soft_failed", "txn_id",
                 "device_id", "stream_ordering")


def get_room(room_id: str) -> Room | None:
    return Room.objects.filter(room_id=room_id).first()


def _event_from_row(row: dict) -> Event:
    internal = InternalMetadata(outlier=row["outlier"], soft_failed=row["soft_failed"],
                                rejected_reason=row["rejected_reason"], txn_id=row["txn_id"],
                                device_id=row["device_id"], stream_ordering=row["stream_ordering"])
    ev = Event(json.loads(row["json"]), get_room_version(row["room_version"]), internal=internal)
    ev.__dict__["event_id"] = row["event_id"]  # the stored id; no need to hash the event again
    return ev


def get_events(event_ids: Iterable[str]) -> dict[str, Event]:
    """The stored events among `event_ids` (rejected and soft-failed included: callers decide)."""
    ids = list(dict.fromkeys(event_ids))
    if not ids:
        return {}
    return {r["event_id"]: _event_from_row(r) for r in EventRow.objects.filter(event_id__in=ids).values(*_EVENT_FIELDS)}


def get_event(event_id: str) -> Event | None:
    return get_events([event_id]).get(event_id)


def event_room_id(event_id: str) -> str | None:
    return EventRow.objects.filter(event_id=event_id).values_list("room_id", flat=True).first()


def forward_extremities(room_id: str, limit: int = MAX_PREV_EVENTS) -> list[tuple[str, int]]:
    """(event_id, depth) of the room's forward extremities, deepest first, at most `limit`."""
    rows = (EventRow.objects.filter(room_id=room_id, event_id__in=ForwardExtremity.objects.filter(room_id=room_id)
                                    .values("event_id"))
            .order_by("-depth", "-stream_ordering").values_list("event_id", "depth")[:limit])
    return list(rows)


def membership_of(room_id: str, user_id: str) -> tuple[str, str] | None:
    """(membership, event_id) of the user's current membership, or None."""
    return (RoomMembership.objects.filter(room_id=room_id, user_id=user_id)
            .values_list("membership", "event_id").first())


def joined_room_ids(user_id: str) -> list[str]:
    return list(RoomMembership.objects.filter(user_id=user_id, membership="join")
                .order_by("stream_ordering").values_list("room_id", flat=True))


def event_for_txn(user_id: str, device_id: str, room_id: str, txn_id: str) -> str | None:
    return (TxnId.objects.filter(user_id=user_id, device_id=device_id, room_id=room_id, txn_id=txn_id)
            .values_list("event_id", flat=True).first())
