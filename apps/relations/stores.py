"""Reads of the relations index (`models`) for the relations and threads endpoints."""
from __future__ import annotations

from django.db.models import Q
from django.db.models.expressions import RawSQL

from .index import THREAD
from .models import EventRelation, ThreadRoot

_REL = EventRelation._meta.db_table


def children(room_id: str, parent_id: str, *, rel_type: str | None, event_type: str | None,
             max_depth: int = 1):
    """The relations rows of the room's events relating to `parent_id`: directly (`max_depth` 1) or
    through up to `max_depth` relationships (a recursive query, one round trip)."""
    qs = EventRelation.objects.filter(room_id=room_id)
    if max_depth <= 1:
        qs = qs.filter(relates_to_id=parent_id)
    else:
        tree = f"""
            WITH RECURSIVE tree(event_id, lvl) AS (
                SELECT event_id, 1 FROM {_REL} WHERE relates_to_id = %s AND room_id = %s
                UNION
                SELECT r.event_id, t.lvl + 1 FROM {_REL} r JOIN tree t ON r.relates_to_id = t.event_id
                 WHERE t.lvl < %s AND r.room_id = %s
            )
            SELECT event_id FROM tree"""
        qs = qs.filter(event_id__in=RawSQL(tree, (parent_id, room_id, max_depth, room_id)))
    if rel_type is not None:
        qs = qs.filter(rel_type=rel_type)
    if event_type is not None:
        qs = qs.filter(type=event_type)
    return qs


def page(qs, condition: Q | None, direction: str, count: int) -> list[tuple[str, int, int]]:
    """(event_id, depth, stream_ordering) of up to `count` rows, newest first for `b`."""
    if condition is not None:
        qs = qs.filter(condition)
    order = ("-depth", "-stream_ordering") if direction == "b" else ("depth", "stream_ordering")
    return list(qs.order_by(*order).values_list("event_id", "depth", "stream_ordering")[:count])


def thread_roots(room_id: str, *, participant: str | None, before: tuple[int, int] | None,
                 count: int) -> list[tuple[str, int, int]]:
    """(root_event_id, latest depth, latest stream_ordering) of the room's threads, latest activity
    (topologically) first, before the (depth, stream_ordering) `before`; only those `participant`
    started or replied in when given."""
    qs = ThreadRoot.objects.filter(room_id=room_id)
    if participant is not None:
        replied = EventRelation.objects.filter(rel_type=THREAD, sender=participant, room_id=room_id)
        qs = qs.filter(Q(root_sender=participant) | Q(root_event_id__in=replied.values("relates_to_id")))
    if before is not None:
        depth, position = before
        qs = qs.filter(Q(latest_depth__lt=depth) | Q(latest_depth=depth, latest_stream_ordering__lt=position))
    return list(qs.order_by("-latest_depth", "-latest_stream_ordering")
                .values_list("root_event_id", "latest_depth", "latest_stream_ordering")[:count])
