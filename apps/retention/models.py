"""The parsed policy of every valid `m.room.retention` state event this server stored (Synapse's
`room_retention` table). A room's policy is the row of its *current* retention event, found by joining
the current state on the event id, so a change of current state by any path (a local send, state
resolution, a remote join's state) is followed without rewriting anything here. A room whose current
retention event is missing or was invalid has no row there and takes the server's default."""
from __future__ import annotations

from django.db import models


class RetentionRule(models.Model):
    # No foreign key to the events table: a purge of history must never cascade into, or be blocked by,
    # this table (a retention event is state, and purges keep current state anyway).
    event_id = models.CharField(max_length=255, primary_key=True)
    room_id = models.CharField(max_length=255, db_index=True)
    min_lifetime = models.BigIntegerField(null=True, blank=True, help_text="Milliseconds; empty: the default.")
    max_lifetime = models.BigIntegerField(null=True, blank=True, help_text="Milliseconds; empty: the default.")

    class Meta:
        db_table = "room_retention"

    def __str__(self) -> str:
        return f"{self.room_id} {self.event_id}: min={self.min_lifetime} max={self.max_lifetime}"
