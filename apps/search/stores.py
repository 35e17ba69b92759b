"""Queries of the search index: PostgreSQL full-text search (`vector @@ to_tsquery`, ranked by
`ts_rank_cd`) on the services tier, LIKE on every word elsewhere (SQLite: no ranking, so `rank`
is 1 and ranked results come newest first). Terms match as prefixes on both backends."""
from __future__ import annotations

from django.db import connection
from django.db.models import BooleanField, Exists, FloatField, OuterRef, Value
from django.db.models.expressions import RawSQL

from apps.rooms.models import EventRow

from .models import SearchEntry


def _tsquery(words: list[str]) -> str:
    return " & ".join(f"{w}:*" for w in words)


def matching(room_ids: list[str], keys: list[str], words: list[str], *, senders=None, not_senders=(),
             types=None, not_types=()):
    """The index rows of `room_ids` matching every word, redacted events left out, annotated `rank`."""
    qs = SearchEntry.objects.filter(room_id__in=room_ids, key__in=keys)
    if senders is not None:
        qs = qs.filter(sender__in=list(senders))
    if not_senders:
        qs = qs.exclude(sender__in=list(not_senders))
    if types is not None:
        qs = qs.filter(type__in=list(types))
    if not_types:
        qs = qs.exclude(type__in=list(not_types))
    qs = qs.exclude(Exists(EventRow.objects.filter(event_id=OuterRef("event_id"), redacted_by__isnull=False)))
    if connection.vendor == "postgresql":
        q = _tsquery(words)
        return (qs.alias(hit=RawSQL("vector @@ to_tsquery('english', %s)", (q,), output_field=BooleanField()))
                .filter(hit=True)
                .annotate(rank=RawSQL("ts_rank_cd(vector, to_tsquery('english', %s))", (q,),
                                      output_field=FloatField())))
    for w in words:
        qs = qs.filter(value__icontains=w)
    return qs.annotate(rank=Value(1.0, output_field=FloatField()))


def page(qs, *, order: str, position: int | None, count: int) -> list[tuple[str, float, int, str]]:
    """(event_id, rank, stream_ordering, value) of the next `count` rows: for `recent`, older than the
    stream position `position`; for `rank`, from the offset `position`."""
    fields = ("event_id", "rank", "stream_ordering", "value")
    if order == "recent":
        if position is not None:
            qs = qs.filter(stream_ordering__lt=position)
        return list(qs.order_by("-stream_ordering").values_list(*fields)[:count])
    start = position or 0
    return list(qs.order_by("-rank", "-stream_ordering").values_list(*fields)[start:start + count])
