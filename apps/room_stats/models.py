"""Tables of room and user statistics (Synapse's `room_stats_current` + `room_stats_state`,
`user_stats_current`, `stats_incremental_position`), kept by the `background.update_room_stats` task
(apps.room_stats.updater) from the `events` stream; read by the operator's console (admin.py).

`RoomStats` is one row per room: the current counts and the descriptive fields of its current state, in
one table (Synapse splits them in two; the console sorts on both kinds at once). `completed_stream_id` is
the `events` position the row was last computed at; a room without a row has never been computed and
gets a full computation. `UserStats` is one row per local user: the rooms they are joined to.
`StatsPosition` is the durable position of the incremental update: every event up to it has been
accounted for.
"""
from __future__ import annotations

from django.db import models


class RoomStats(models.Model):
    room = models.OneToOneField("rooms.Room", on_delete=models.CASCADE, primary_key=True, db_column="room_id",
                                related_name="stats")
    # room_stats_current
    current_state_events = models.IntegerField(default=0, help_text="Entries of the current state.")
    joined_members = models.IntegerField(default=0)
    invited_members = models.IntegerField(default=0)
    left_members = models.IntegerField(default=0)
    banned_members = models.IntegerField(default=0)
    knocked_members = models.IntegerField(default=0)
    local_users_in_room = models.IntegerField(default=0, help_text="Joined members of this server.")
    # room_stats_state (the current state's values; NULL when the room has no such state)
    name = models.TextField(null=True, blank=True)
    canonical_alias = models.TextField(null=True, blank=True)
    topic = models.TextField(null=True, blank=True)
    avatar = models.TextField(null=True, blank=True)
    join_rules = models.CharField(max_length=255, null=True, blank=True)
    history_visibility = models.CharField(max_length=255, null=True, blank=True)
    guest_access = models.CharField(max_length=255, null=True, blank=True)
    encryption = models.CharField(max_length=255, null=True, blank=True, help_text="Encryption algorithm.")
    room_type = models.CharField(max_length=255, null=True, blank=True)
    is_federatable = models.BooleanField(default=True)
    creator = models.CharField(max_length=255, null=True, blank=True)
    room_version = models.CharField(max_length=32, null=True, blank=True)
    completed_stream_id = models.BigIntegerField(default=0, help_text="The events position this row was computed at.")
    updated_ts = models.BigIntegerField(default=0)

    class Meta:
        db_table = "room_stats"
        verbose_name = "room statistics"
        verbose_name_plural = "room statistics"
        indexes = [models.Index(fields=["joined_members"], name="room_stats_joined"),
                   models.Index(fields=["local_users_in_room"], name="room_stats_local"),
                   models.Index(fields=["current_state_events"], name="room_stats_state_events")]

    def __str__(self) -> str:
        return self.room_id


class UserStats(models.Model):
    user_id = models.CharField(max_length=255, primary_key=True)
    joined_rooms = models.IntegerField(default=0)
    completed_stream_id = models.BigIntegerField(default=0)

    class Meta:
        db_table = "user_stats"
        verbose_name = "user statistics"
        verbose_name_plural = "user statistics"

    def __str__(self) -> str:
        return self.user_id


class StatsPosition(models.Model):
    """The incremental update's durable position in a stream (one row, `events`)."""

    stream = models.CharField(max_length=64, primary_key=True)
    stream_id = models.BigIntegerField()

    class Meta:
        db_table = "stats_positions"

    def __str__(self) -> str:
        return f"{self.stream}={self.stream_id}"
