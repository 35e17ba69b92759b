"""Tables of account data (client-server API, "Client Config", "Room Tagging", "Ignoring Users").

One row per (user, room, type): `room_id` is "" for global account data (an empty string rather than
NULL so the unique constraint holds for global rows too). Tags are the room account data `m.tag`
(`{"tags": {...}}`), the event clients see in /sync, so a tag change is one row write. `stream_id` is the
row's latest position in the `account_data` stream: a write replaces the row and moves it forward, so
"what changed since position P" is `stream_id > P`.
"""
from django.db import models


class AccountData(models.Model):
    user_id = models.CharField(max_length=255)
    room_id = models.CharField(max_length=255, default="", blank=True)
    data_type = models.CharField(max_length=255)
    # The content as canonical JSON (a JSON object).
    content = models.TextField()
    stream_id = models.BigIntegerField()

    class Meta:
        db_table = "account_data"
        constraints = [models.UniqueConstraint(fields=["user_id", "room_id", "data_type"],
                                               name="account_data_uniq")]
        indexes = [models.Index(fields=["user_id", "stream_id"], name="account_data_user_stream"),
                   models.Index(fields=["stream_id"], name="account_data_stream")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.room_id or '(global)'} {self.data_type}"
