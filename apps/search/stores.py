"""Queries of the search index: PostgreSQL full-text search (`vector @@ to_tsquery`, ranked by
`ts_rank_cd`) on the services tier; on SQLite the FTS5 table `event_search_fts` (`MATCH`, ranked by
`bm25()`, negated so that higher is better on both backends), LIKE on every word on any other
database. Terms match as prefixes on all of them.

User input never reaches the FTS5 query syntax unquoted: each term is a double-quoted string
(quotes doubled) followed by `*`, so quotes, `*`, parentheses, `-`, `:`, `^` and the words AND/OR/
NOT/NEAR are text, never operators."""
from __future__ import annotations

import re

from django.db import connection
from django.db.models import BooleanField, Exists, FloatField, OuterRef, Value
from django.db.models.expressions import RawSQL

from apps.rooms.models import EventRow

from .models import SearchEntry


_FTS5_TOKEN = re.compile(r"[^\W_]+")


def _tsquery(words: list[str]) -> str:
    return " & ".join(f"{w}:*" for w in words)


def fts5_query(words: list[str]) -> str | None:
    """The FTS5 query requiring every word as a prefix, or None when no word has a letter or digit
    (unicode61 splits on everything else, `_` included, so such a word has no token to look for)."""
    terms = [t for w in words for t in _FTS5_TOKEN.findall(w)]
    if not terms:
        return None
    return " AND ".join('"' + t.replace('"', '""') + '"*' for t in dict.fromkeys(terms))


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
    if connection.vendor == "sqlite":
        q = fts5_query(words)
        if q is None:
            return qs.none().annotate(rank=Value(0.0, output_field=FloatField()))
        return (qs.alias(hit=RawSQL("stream_ordering IN (SELECT rowid FROM event_search_fts "
                                    "WHERE event_search_fts MATCH %s)", (q,), output_field=BooleanField()))
                .filter(hit=True)
                # The rowid constraint makes this a lookup of one row's score, not a second search.
                .annotate(rank=RawSQL("(SELECT -bm25(event_search_fts) FROM event_search_fts WHERE "
                                      "event_search_fts MATCH %s AND rowid = event_search.stream_ordering)",
                                      (q,), output_field=FloatField())))
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
