"""Keeping the search index (`models.SearchEntry`) in step with the room: in the persisting
transaction of every timeline event (`apps.rooms.persister.on_event_persisting`), one row for an
event with a searchable key (client-server API, "Search Categories", `room_events`). Rejected,
soft-failed and outlier events are not indexed; redacted events are left out at query time
(`stores`), so a redaction from any path, local or remote, early or late, hides its target.

On SQLite the FTS5 table `event_search_fts` (migration 0003, rowid = stream_ordering) gets the same
text in the same transaction, loses it with its `event_search` row (a trigger, migration 0004), and
loses it once a redaction is recorded (after the redaction's commit: only then is it known to apply,
`apps.rooms.redactions`), so redacted text stops being held in the full-text index."""
from __future__ import annotations

from typing import Any

from django.db import connection, transaction

from apps.rooms.events import Event
from apps.rooms.persister import PersistedEvent, on_event_persisted, on_event_persisting

from .models import SearchEntry

KEYS = {"content.body": "m.room.message", "content.name": "m.room.name", "content.topic": "m.room.topic"}


def _text(value: Any) -> str:
    # PostgreSQL text cannot hold NUL.
    return value.replace("\x00", "") if isinstance(value, str) else ""


def searchable(event: Event) -> tuple[str, str] | None:
    """(key, text) of a searchable event, or None."""
    content = event.content if isinstance(event.content, dict) else {}
    if event.type == "m.room.message":
        body = _text(content.get("body"))
        return ("content.body", body) if body else None
    if event.type == "m.room.name" and event.state_key == "":
        name = _text(content.get("name"))
        return ("content.name", name) if name else None
    if event.type == "m.room.topic" and event.state_key == "":
        parts = [_text(content.get("topic"))]
        block = content.get("m.topic")
        texts = block.get("m.text") if isinstance(block, dict) else None
        for t in texts if isinstance(texts, list) else ():
            # Spec: the body of the text/plain representation (a missing mimetype is text/plain).
            if isinstance(t, dict) and t.get("mimetype", "text/plain") == "text/plain":
                body = _text(t.get("body"))
                if body and body not in parts:
                    parts.append(body)
        text = "\n".join(p for p in parts if p)
        return ("content.topic", text) if text else None
    return None


@on_event_persisting
def _on_persisting(persisted: PersistedEvent) -> None:
    event = persisted.event
    meta = event.internal
    if persisted.stream_ordering is None or event.rejected or meta.soft_failed or meta.outlier:
        return
    # The persister runs its hooks once per event (an event already stored is not persisted again).
    index_event(event, persisted.stream_ordering)


def index_event(event: Event, position: int) -> None:
    found = searchable(event)
    if found is None:
        return
    SearchEntry.objects.create(
        event_id=event.event_id, room_id=event.room_id, key=found[0], value=found[1], sender=event.sender,
        type=event.type, stream_ordering=position, origin_server_ts=event.origin_server_ts)
    if connection.vendor == "sqlite":
        with connection.cursor() as cur:
            # REPLACE: a row of this position can only be stale, and indexing must never fail a send.
            cur.execute("INSERT OR REPLACE INTO event_search_fts(rowid, value) VALUES (%s, %s)",
                        [position, found[1]])


@on_event_persisted
def _on_persisted(persisted: PersistedEvent) -> None:
    event = persisted.event
    if connection.vendor != "sqlite" or event.type != "m.room.redaction" or persisted.stream_ordering is None:
        return
    from apps.rooms.models import EventRow
    from apps.rooms.redactions import record_redaction

    target = event.redacts
    if not isinstance(target, str):
        return
    with transaction.atomic():
        # The rooms app records remote redactions in its own after-commit hook, which may run after this
        # one: recording is idempotent, so whichever runs first does it.
        if not EventRow.objects.filter(event_id=target, redacted_by__isnull=False).exists() \
                and not record_redaction(event):
            return
        forget(target)


def forget(event_id: str) -> None:
    """Drop a redacted event's text from the SQLite full-text index."""
    position = SearchEntry.objects.filter(event_id=event_id).values_list("stream_ordering", flat=True).first()
    if position is not None:
        with connection.cursor() as cur:
            cur.execute("DELETE FROM event_search_fts WHERE rowid = %s", [position])


def rebuild(batch: int = 1000) -> int:
    """Recompute the whole index from the stored timeline (`manage.py rebuild_search_index`: for events
    persisted before this app was installed). Meant for a quiet server: an event persisted meanwhile
    may be indexed by its own hook and then fail here (or the other way round), in which case run it
    again. Returns the number of events read."""
    from apps.rooms import stores
    from apps.rooms.models import EventRow

    with transaction.atomic():
        SearchEntry.objects.all().delete()
        sqlite = connection.vendor == "sqlite"
        if sqlite:
            with connection.cursor() as cur:
                cur.execute("DELETE FROM event_search_fts")
        rows = EventRow.objects.filter(outlier=False, soft_failed=False, rejected_reason__isnull=True,
                                       stream_ordering__isnull=False, type__in=list(KEYS.values()))
        last, seen = None, 0
        while True:
            page = rows.filter(stream_ordering__gt=last) if last is not None else rows
            ids = list(page.order_by("stream_ordering").values_list("event_id", "stream_ordering")[:batch])
            if not ids:
                if sqlite:
                    with connection.cursor() as cur:
                        cur.execute("DELETE FROM event_search_fts WHERE rowid IN (SELECT stream_ordering FROM "
                                    "events WHERE redacted_by IS NOT NULL AND stream_ordering IS NOT NULL)")
                return seen
            events = stores.get_events(eid for eid, _ in ids)
            for eid, position in ids:
                if eid in events:
                    index_event(events[eid], position)
            seen += len(ids)
            last = ids[-1][1]
