"""Durable state of delivery to application services, and their published room lists.

`AppServiceState` (one row per service id, made on first use): `stream_position` is the last `events`
stream position whose events were delivered (or found of no interest); everything after it is still to
do. At most one transaction is in flight: `txn_id`/`txn_body`/`txn_up_to` hold it until the
service acknowledges it, and a retry re-sends exactly those events under the same id (spec: "Homeservers
MUST NOT alter ... events they were going to send within that transaction ID on retries").
`failures`/`retry_at_ms` are the exponential backoff; `lease_until_ms`/`lease_owner` make one worker at
a time the sender for the service (a lease with an expiry, not a lock held across HTTP calls).
"""
from __future__ import annotations

from django.db import models


class AppServiceState(models.Model):
    appservice_id = models.CharField(max_length=255, primary_key=True)
    stream_position = models.BigIntegerField(default=0)
    next_txn_id = models.BigIntegerField(default=1)
    txn_id = models.BigIntegerField(null=True, blank=True)
    txn_body = models.JSONField(null=True, blank=True, help_text="The in-flight transaction, exactly as sent.")
    txn_up_to = models.BigIntegerField(null=True, blank=True)
    # `receive_ephemeral`: the last delivered position of each ephemeral stream (typing, receipts,
    # presence), and where the in-flight transaction takes them.
    ephemeral_positions = models.JSONField(default=dict, blank=True)
    txn_ephemeral_up_to = models.JSONField(null=True, blank=True)
    failures = models.IntegerField(default=0)
    retry_at_ms = models.BigIntegerField(null=True, blank=True)
    last_error = models.TextField(null=True, blank=True)
    lease_owner = models.CharField(max_length=64, null=True, blank=True)
    lease_until_ms = models.BigIntegerField(null=True, blank=True)

    class Meta:
        db_table = "appservice_state"

    def __str__(self) -> str:
        return self.appservice_id


class AppServiceRoomListing(models.Model):
    """A room published in a service's room directory for one third-party network
    (PUT /directory/list/appservice/{networkId}/{roomId})."""

    appservice_id = models.CharField(max_length=255)
    network_id = models.CharField(max_length=255)
    room_id = models.CharField(max_length=255)

    class Meta:
        db_table = "appservice_room_list"
        constraints = [models.UniqueConstraint(fields=["appservice_id", "network_id", "room_id"],
                                               name="appservice_room_list_uniq")]
