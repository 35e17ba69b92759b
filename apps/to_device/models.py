"""Tables of send-to-device messaging (client-server API, "Send-to-Device messaging").

`DeviceInboxMessage`: one row per message per recipient device, stamped with its `to_device` stream
position, kept until the device's client syncs with a token past it. A `sendToDevice` request sends at
most one message to each device (spec), so a device never has two messages at one position.

`ToDeviceTxn`: the (sender, sender's device, txn id) of each request already handled, written in the
same transaction as its messages: a retried request sends nothing twice.
"""
from django.db import models


class DeviceInboxMessage(models.Model):
    user_id = models.CharField(max_length=255)
    device_id = models.CharField(max_length=255)
    stream_id = models.BigIntegerField()
    sender = models.CharField(max_length=255)
    message_type = models.CharField(max_length=255)
    # The content as JSON (an object).
    content = models.TextField()

    class Meta:
        db_table = "device_inbox"
        indexes = [models.Index(fields=["user_id", "device_id", "stream_id"], name="device_inbox_device_stream"),
                   models.Index(fields=["stream_id"], name="device_inbox_stream")]


class ToDeviceTxn(models.Model):
    user_id = models.CharField(max_length=255)
    device_id = models.CharField(max_length=255)
    txn_id = models.CharField(max_length=255)
    stream_id = models.BigIntegerField()
    created_ts = models.BigIntegerField()

    class Meta:
        db_table = "to_device_txns"
        constraints = [models.UniqueConstraint(fields=["user_id", "device_id", "txn_id"], name="to_device_txns_uniq")]
