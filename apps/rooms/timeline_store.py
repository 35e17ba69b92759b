"""Reads of a room's timeline in (depth, stream_ordering) order, for `/messages`, `/context` and
`timestamp_to_event` (apps/rooms/timeline.py). Served by the indexes `events_room_topo`
(room, depth, stream_ordering) and `events_room_stream` (room, stream_ordering).

The timeline is the room's events that are not outliers, not rejected and not soft-failed."""
from __future__ import annotations

from django.db.models import Max, Q

from .events import Event
from .filters import RoomEventFilter
from .models import EventRow
from .stores import _EVENT_FIELDS, _event_from_row

_FIELDS = (*_EVENT_FIELDS, "depth")


def timeline_rows(room_id: str):
    return EventRow.objects.filter(room_id=room_id, outlier=False, soft_failed=False, rejected_reason__isnull=True,
                                   stream_ordering__isnull=False)


def with_filter(qs, filt: RoomEventFilter | None):
    """Push what SQL can do of `filt` into the query (wildcards and contains_url stay in Python)."""
    if filt is None:
        return qs
    if filt.exact_types is not None:
        qs = qs.filter(type__in=list(filt.exact_types))
    if filt.exact_not_types:
        qs = qs.exclude(type__in=list(filt.exact_not_types))
    if filt.senders is not None:
        qs = qs.filter(sender__in=list(filt.senders))
    if filt.not_senders:
        qs = qs.exclude(sender__in=list(filt.not_senders))
    return qs


def fetch_page(qs, condition: Q, direction: str, count: int) -> list[tuple[Event, int]]:
    """Up to `count` (event, depth) of `qs` matching `condition`, newest first for `b`, oldest first for `f`."""
    order = ("-depth", "-stream_ordering") if direction == "b" else ("depth", "stream_ordering")
    rows = qs.filter(condition).order_by(*order).values(*_FIELDS)[:count]
    return [(_event_from_row(r), r["depth"]) for r in rows]


def latest_stream(room_id: str) -> int:
    return timeline_rows(room_id).aggregate(m=Max("stream_ordering"))["m"] or 0


def events_near_ts(room_id: str, ts: int, direction: str, count: int) -> list[Event]:
    """Timeline events at or after `ts` (f, oldest first) or at or before it (b, newest first)."""
    qs = timeline_rows(room_id)
    if direction == "f":
        qs = qs.filter(origin_server_ts__gte=ts).order_by("origin_server_ts", "stream_ordering")
    else:
        qs = qs.filter(origin_server_ts__lte=ts).order_by("-origin_server_ts", "-stream_ordering")
    return [_event_from_row(r) for r in qs.values(*_FIELDS)[:count]]
