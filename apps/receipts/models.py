"""The latest receipt of each (room, user, receipt type, thread).

`thread_key` is "" for an unthreaded receipt, else the receipt's `thread_id` ("main" or a thread root's
event ID): spec "Receipts": each user, receipt type and categorisation (unthreaded, or thread_id) has
exactly one event. `event_stream_ordering` is the receipt's event's place in the `events` stream (what
notification counts compare with); `stream_id` is the `receipts` stream position of the last change.
"""
from django.db import models


class Receipt(models.Model):
    room_id = models.CharField(max_length=255)
    user_id = models.CharField(max_length=255)
    receipt_type = models.CharField(max_length=64)
    thread_key = models.CharField(max_length=255, default="", blank=True)
    event_id = models.CharField(max_length=255)
    event_stream_ordering = models.BigIntegerField()
    ts = models.BigIntegerField()
    stream_id = models.BigIntegerField(db_index=True)

    class Meta:
        db_table = "receipts"
        constraints = [models.UniqueConstraint(fields=["room_id", "receipt_type", "user_id", "thread_key"],
                                               name="receipts_uniq")]
        indexes = [models.Index(fields=["room_id", "stream_id"], name="receipts_room_stream"),
                   models.Index(fields=["user_id", "room_id"], name="receipts_user_room")]
