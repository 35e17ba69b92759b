"""The outbound federation outbox: what each destination is owed, and who is sending to it.

`OutboundPdu` rows are written in the transaction that persists a local event (one row per destination
that had a joined member then), so that a queued PDU survives a restart exactly as the event does; a row
goes once a transaction holding it was answered 200. `OutboundEdu` rows are the pending EDUs; an EDU
that supersedes an earlier one (a typing change, a newer receipt of the same user) replaces its row
(`coalesce_key`). `FederationDestination` holds the lease (one transaction in flight per destination,
whatever the number of `federation_sender` workers), the backoff, and the transaction in flight: it is
retried with the same txnId and body until the destination answers 200 (spec: server-server API,
"Transactions").
"""
from __future__ import annotations

from django.db import models


class OutboundPdu(models.Model):
    destination = models.CharField(max_length=255)
    stream_ordering = models.BigIntegerField()
    event_id = models.CharField(max_length=255)

    class Meta:
        db_table = "federation_outbound_pdus"
        constraints = [models.UniqueConstraint(fields=["destination", "event_id"], name="fed_out_pdu_uniq")]
        indexes = [models.Index(fields=["destination", "stream_ordering"], name="fed_out_pdu_dest")]


class OutboundEdu(models.Model):
    destination = models.CharField(max_length=255)
    edu_type = models.CharField(max_length=255)
    content = models.JSONField()
    coalesce_key = models.CharField(max_length=512, null=True, blank=True)

    class Meta:
        db_table = "federation_outbound_edus"
        constraints = [models.UniqueConstraint(fields=["destination", "coalesce_key"], name="fed_out_edu_uniq")]
        indexes = [models.Index(fields=["destination", "id"], name="fed_out_edu_dest")]


class FederationDestination(models.Model):
    destination = models.CharField(max_length=255, primary_key=True)
    lease_owner = models.CharField(max_length=128, null=True, blank=True)
    lease_until_ms = models.BigIntegerField(null=True, blank=True)
    failures = models.IntegerField(default=0)
    retry_at_ms = models.BigIntegerField(null=True, blank=True)
    last_error = models.TextField(null=True, blank=True)
    last_success_ms = models.BigIntegerField(null=True, blank=True)
    # The transaction in flight: its id, its body and the outbox rows it carries (deleted on 200).
    txn_id = models.CharField(max_length=64, null=True, blank=True)
    txn_body = models.JSONField(null=True, blank=True)
    txn_pdu_rows = models.JSONField(null=True, blank=True)
    txn_edu_rows = models.JSONField(null=True, blank=True)

    class Meta:
        db_table = "federation_destinations"
