"""The delivery state of each pusher: who is sending for it now (a lease), and its backoff.

The durable position (what has been pushed) is the pusher's own `last_stream_ordering`
(apps.push.models.Pusher); this table holds what the `pusher` queue needs to share the pushers between
several Celery workers without sending twice, and to back off from a gateway that is down.
`EmailRoomThrottle` holds what email pushers batch and throttle by.
"""
from __future__ import annotations

from django.db import models


class PusherDeliveryState(models.Model):
    pusher_id = models.BigIntegerField(primary_key=True)
    lease_owner = models.CharField(max_length=128, null=True, blank=True)
    lease_until_ms = models.BigIntegerField(null=True, blank=True)
    failures = models.IntegerField(default=0)
    retry_at_ms = models.BigIntegerField(null=True, blank=True)
    last_error = models.TextField(null=True, blank=True)

    class Meta:
        db_table = "pusher_delivery_state"


class EmailRoomThrottle(models.Model):
    """An email pusher's last email about a room: what it covered (`last_sent_position`, the newest
    notification it listed), when, and the interval before the next one (apps.push_delivery.email)."""

    pusher_id = models.BigIntegerField()
    room_id = models.CharField(max_length=255)
    last_sent_ms = models.BigIntegerField()
    last_sent_position = models.BigIntegerField()
    throttle_ms = models.BigIntegerField()

    class Meta:
        db_table = "pusher_email_room_throttle"
        constraints = [models.UniqueConstraint(fields=["pusher_id", "room_id"], name="email_throttle_uniq")]
