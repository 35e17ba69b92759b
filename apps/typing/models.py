"""Who is typing in each room: one row per room, rewritten on every change.

A room's row carries the `typing` stream position of its last visible change (someone started or stopped
typing, or timed out). Only the latest change of a room matters to a client (an `m.typing` event replaces
the whole list, spec "Typing Notifications"), so keeping one row per room answers "what changed in
(since, now]" exactly: the room changed iff its position is in that range.
"""
from django.db import models


class RoomTyping(models.Model):
    room_id = models.CharField(max_length=255, primary_key=True)
    stream_position = models.BigIntegerField(default=0, db_index=True)
    # user_id -> when their typing expires (ms since the epoch), for everyone typing in the room.
    typing = models.JSONField(default=dict)
    # The earliest expiry in `typing` (None when nobody types): what the writer's timeout loop looks for.
    next_expiry_ms = models.BigIntegerField(null=True, db_index=True)

    class Meta:
        db_table = "typing_rooms"
