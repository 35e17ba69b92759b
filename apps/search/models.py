"""The full-text index of room events (client-server API, "Server Side Search").

One `SearchEntry` per searchable timeline event: `content.body` of `m.room.message`, `content.name`
of `m.room.name`, `content.topic` (and the `text/plain` body of `m.topic`) of `m.room.topic`, with
what the search filters and orders on. On PostgreSQL a migration adds a generated `vector tsvector`
column (english configuration) with a GIN index; on SQLite another migration adds the FTS5
table `event_search_fts` (rowid = `stream_ordering`), written by `index`.
"""
from __future__ import annotations

from django.db import models


class SearchEntry(models.Model):
    event_id = models.CharField(max_length=255, primary_key=True)
    room_id = models.CharField(max_length=255)
    key = models.CharField(max_length=32, help_text="content.body, content.name or content.topic")
    value = models.TextField()
    sender = models.CharField(max_length=255)
    type = models.CharField(max_length=255)
    stream_ordering = models.BigIntegerField()
    origin_server_ts = models.BigIntegerField()

    class Meta:
        db_table = "event_search"
        indexes = [models.Index(fields=["room_id", "stream_ordering"], name="event_search_room_stream")]
