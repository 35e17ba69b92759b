"""Reads of rooms and events (writes are the persister's): events by ID, forward extremities,
memberships, transaction ids. Events come back as `Event` objects with their internal metadata."""
from __future__ import annotations

import json
from typing import Iterable

from .events import Event, InternalMetadata
from .models import CurrentState, EventRow, ForwardExtremity, Room, RoomMembership, TxnId
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


def membership_of(room_id: str, user_id: str, *, include_forgotten: bool = False) -> tuple[str, str] | None:
    """(membership, event_id) of the user's current membership, or None.

    A room the user forgot (POST /forget, after leaving) counts as none: no history, no room list
    entry. `include_forgotten` gives the membership itself (a forgotten ban is still a ban)."""
    rows = RoomMembership.objects.filter(room_id=room_id, user_id=user_id)
    if not include_forgotten:
        rows = rows.filter(forgotten=False)
    return rows.values_list("membership", "event_id").first()


def joined_room_ids(user_id: str) -> list[str]:
    return list(RoomMembership.objects.filter(user_id=user_id, membership="join")
                .order_by("stream_ordering").values_list("room_id", flat=True))


# --- membership: members lists, forgetting (apps/rooms/membership.py) ---------------------------------

def membership_row(room_id: str, user_id: str) -> tuple[str, str, int, bool] | None:
    """(membership, event_id, stream_ordering, forgotten) of the user's current membership."""
    return (RoomMembership.objects.filter(room_id=room_id, user_id=user_id)
            .values_list("membership", "event_id", "stream_ordering", "forgotten").first())


def current_member_events(room_id: str, memberships: Iterable[str] | None = None) -> list[Event]:
    """The room's current m.room.member events (optionally of these memberships), in one query."""
    keys = CurrentState.objects.filter(room_id=room_id, type="m.room.member")
    if memberships is not None:
        keys = keys.filter(membership__in=list(memberships))
    rows = EventRow.objects.filter(event_id__in=keys.values("event_id")).order_by("stream_ordering")
    return [_event_from_row(r) for r in rows.values(*_EVENT_FIELDS)]


def last_event_at_token(room_id: str, token, *, max_stream: int | None = None) -> str | None:
    """The room's last timeline event at or before `token` (a `pagination.RoomToken`): in stream
    order for a stream token, in topological order for a `t` token; none after `max_stream`."""
    rows = EventRow.objects.filter(token.q_at_or_before(), room_id=room_id, outlier=False, soft_failed=False,
                                   rejected_reason__isnull=True)
    if max_stream is not None:
        rows = rows.filter(stream_ordering__lte=max_stream)
    order = ("-depth", "-stream_ordering") if token.is_topological else ("-stream_ordering",)
    return rows.order_by(*order).values_list("event_id", flat=True).first()


def forget_room(user_id: str, room_id: str, event_id: str) -> None:
    """Mark the membership `event_id` forgotten (a membership that changed meanwhile is untouched)."""
    RoomMembership.objects.filter(room_id=room_id, user_id=user_id, event_id=event_id,
                                  membership__in=("leave", "ban")).update(forgotten=True)


def room_ids_for_user(user_id: str, memberships: Iterable[str], *, include_forgotten: bool = False) -> list[str]:
    """The rooms where the user's membership is one of `memberships`; forgotten ones left out."""
    rows = RoomMembership.objects.filter(user_id=user_id, membership__in=list(memberships))
    if not include_forgotten:
        rows = rows.filter(forgotten=False)
    return list(rows.order_by("stream_ordering").values_list("room_id", flat=True))


# --- end of membership block --------------------------------------------------------------------------


def event_for_txn(user_id: str, device_id: str, room_id: str, txn_id: str) -> str | None:
    return (TxnId.objects.filter(user_id=user_id, device_id=device_id, room_id=room_id, txn_id=txn_id)
            .values_list("event_id", flat=True).first())
