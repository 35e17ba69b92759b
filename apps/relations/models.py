"""The relations index (client-server API, "Forming relationships between events").

`EventRelation`: one row per timeline event whose cleartext `content.m.relates_to` names a parent
(`event_id`) with a `rel_type`; written in the event's persisting transaction (`index.py`), deleted
when the child is redacted (the relationship is then broken). The row copies what the relations
endpoints and the aggregations filter and order on, so they never parse event JSON to page:
`depth` and `stream_ordering` (the room's topological order), `origin_server_ts` (which edit is the
most recent), sender and type (the validity rules of `m.replace`, the `eventType` filter).

`ThreadRoot`: one row per event that has `m.thread` children, with their number and the latest one
(topologically: greatest (depth, stream_ordering), threading.md "latest_event"), so that
`GET /threads` orders threads by their latest activity with one index scan and the `m.thread`
aggregation is one read per page.
"""
from __future__ import annotations

from django.db import models


class EventRelation(models.Model):
    event_id = models.CharField(max_length=255, primary_key=True, help_text="The child (relating) event.")
    relates_to_id = models.CharField(max_length=255, help_text="The parent event.")
    rel_type = models.CharField(max_length=255)
    room_id = models.CharField(max_length=255)
    sender = models.CharField(max_length=255)
    type = models.CharField(max_length=255)
    depth = models.BigIntegerField()
    stream_ordering = models.BigIntegerField()
    origin_server_ts = models.BigIntegerField()

    class Meta:
        db_table = "event_relations"
        indexes = [
            models.Index(fields=["relates_to_id", "rel_type", "depth", "stream_ordering"],
                         name="event_relations_parent"),
            models.Index(fields=["rel_type", "sender", "relates_to_id"], name="event_relations_sender"),
        ]


class ThreadRoot(models.Model):
    root_event_id = models.CharField(max_length=255, primary_key=True)
    room_id = models.CharField(max_length=255)
    root_sender = models.CharField(max_length=255, blank=True, default="",
                                   help_text="Empty while the root event is unknown to this server.")
    count = models.IntegerField(default=0)
    latest_event_id = models.CharField(max_length=255)
    latest_depth = models.BigIntegerField(default=0)
    latest_stream_ordering = models.BigIntegerField()

    class Meta:
        db_table = "thread_roots"
        indexes = [models.Index(fields=["room_id", "latest_depth", "latest_stream_ordering"],
                                name="thread_roots_latest")]
