"""Delayed events (MSC4140, unstable prefix `org.matrix.msc4140`): events a user scheduled to be sent into a
room later, as that user, unless cancelled first.

A row is the durable record of one delayed event from scheduling to its end. A Celery message only wakes
the sender (apps.delayed_events.wakeups); whatever is `scheduled` with `send_ts` in the past is due, and
is claimed by moving it to `sending` with one conditional UPDATE, so two workers never send one twice.
Finished rows (`sent`, `cancelled`, `failed`) are kept for a while (handlers.FINALISED_RETENTION_MS) for
the admin console and for the idempotency of the scheduling request's transaction ID.
"""
from __future__ import annotations

from django.db import models


class DelayedEvent(models.Model):
    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"
    CANCELLED = "cancelled"
    FAILED = "failed"
    STATUSES = ((SCHEDULED, "scheduled"), (SENDING, "sending"), (SENT, "sent"), (CANCELLED, "cancelled"),
                (FAILED, "failed"))
    FINAL = (SENT, CANCELLED, FAILED)

    delay_id = models.CharField(max_length=64, unique=True)
    user_id = models.CharField(max_length=255)
    # The device that scheduled it (None for an application service): the event is sent from it.
    device_id = models.CharField(max_length=255, null=True, blank=True)
    # PUT /send's transaction ID: the same request again gives the same delay_id (None for PUT /state).
    txn_id = models.CharField(max_length=255, null=True, blank=True)
    room_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=255)
    state_key = models.CharField(max_length=255, null=True, blank=True)  # None: not a state event
    content = models.TextField()  # canonical JSON (PostgreSQL's jsonb would refuse a \u0000 in a string)
    # An application service's `?ts=` ("Timestamp massaging"): the origin_server_ts of the sent event.
    origin_server_ts = models.BigIntegerField(null=True, blank=True)
    delay_ms = models.BigIntegerField()
    running_since_ms = models.BigIntegerField()  # when the timer last (re)started
    send_ts = models.BigIntegerField()  # when it falls due: running_since + delay, or a retry's time
    status = models.CharField(max_length=16, choices=STATUSES, default=SCHEDULED)
    claimed_ts = models.BigIntegerField(null=True, blank=True)  # when a sender took it (status `sending`)
    attempts = models.IntegerField(default=0)
    created_ts = models.BigIntegerField()
    finalised_ts = models.BigIntegerField(null=True, blank=True)
    event_id = models.CharField(max_length=255, null=True, blank=True)  # what was sent
    detail = models.TextField(blank=True, default="")  # why it failed, or what cancelled it

    class Meta:
        db_table = "delayed_events"
        indexes = [
            models.Index(fields=["status", "send_ts"], name="delayed_events_due"),
            models.Index(fields=["user_id", "status"], name="delayed_events_user"),
            models.Index(fields=["room_id", "event_type", "state_key"], name="delayed_events_state"),
            models.Index(fields=["finalised_ts"], name="delayed_events_finalised"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["user_id", "device_id", "room_id", "txn_id"],
                                    condition=models.Q(txn_id__isnull=False, device_id__isnull=False),
                                    name="delayed_events_txn_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.delay_id} ({self.event_type} in {self.room_id} by {self.user_id}, {self.status})"
