"""Reports of events, rooms and users by local users (spec: Client-Server API, "Reporting content"),
kept for the server's administrators to review in the admin console."""
from __future__ import annotations

from django.db import models


class Report(models.Model):
    KIND_EVENT = "event"
    KIND_ROOM = "room"
    KIND_USER = "user"
    KINDS = ((KIND_EVENT, "event"), (KIND_ROOM, "room"), (KIND_USER, "user"))

    kind = models.CharField(max_length=8, choices=KINDS)
    reporter = models.CharField(max_length=255, db_index=True)
    room_id = models.CharField(max_length=255, null=True, blank=True)
    event_id = models.CharField(max_length=255, null=True, blank=True)
    target_user_id = models.CharField(max_length=255, null=True, blank=True)
    reason = models.TextField(blank=True)
    received_ts = models.BigIntegerField()
    handled = models.BooleanField(default=False)

    class Meta:
        db_table = "reports"
        ordering = ("-received_ts",)
        indexes = [models.Index(fields=["handled", "received_ts"], name="reports_handled_ts")]

    def __str__(self) -> str:
        target = self.event_id or self.room_id or self.target_user_id
        return f"{self.kind} report of {target} by {self.reporter}"
