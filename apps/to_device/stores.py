"""Every query of send-to-device messaging: the inbox of each device, the txn ids already handled, and
the local devices a message may be addressed to.

A request's messages are written in one transaction with one `to_device` position (allocated after the
txn-id row, just before the messages), and published as one `{user_id, device_id}` row per recipient
device, which wakes exactly that device's `/sync`.
"""
from __future__ import annotations

import json
import time
from typing import Any, Iterable

from django.db import IntegrityError, transaction

from apps.streams.replication import allocate_position, on_commit_publish

from .models import DeviceInboxMessage, ToDeviceTxn

STREAM = "to_device"


def local_devices(localparts: Iterable[str]) -> dict[str, set[str]]:
    """localpart -> device ids of the active local accounts among `localparts` (one query)."""
    from apps.accounts.models import Device

    out: dict[str, set[str]] = {}
    rows = Device.objects.filter(user__localpart__in=list(localparts), user__deactivated=False) \
        .values_list("user__localpart", "device_id")
    for localpart, device_id in rows:
        out.setdefault(localpart, set()).add(device_id)
    return out


# How long a handled txn id is remembered: far longer than any client retries a request.
TXN_RETENTION_MS = 24 * 3_600_000


def txn_seen(user_id: str, device_id: str, txn_id: str) -> bool:
    return ToDeviceTxn.objects.filter(user_id=user_id, device_id=device_id, txn_id=txn_id).exists()


def store_messages(sender: str, sender_device: str, txn_id: str, message_type: str,
                   messages: list[tuple[str, str, dict[str, Any]]]) -> int | None:
    """Record the request's txn id and queue `messages` ([(user_id, device_id, content)]) in one
    transaction. Returns the position, None if the txn id was already handled (nothing is sent again)
    or there was nothing to queue."""
    now_ms = int(time.time() * 1000)
    try:
        with transaction.atomic():
            # The sender's txn ids older than the retention go as new ones come (indexed by user).
            ToDeviceTxn.objects.filter(user_id=sender, created_ts__lt=now_ms - TXN_RETENTION_MS).delete()
            txn = ToDeviceTxn.objects.create(user_id=sender, device_id=sender_device, txn_id=txn_id,
                                             stream_id=0, created_ts=now_ms)
            if not messages:
                return None
            position = allocate_position(STREAM)
            ToDeviceTxn.objects.filter(id=txn.id).update(stream_id=position)
            DeviceInboxMessage.objects.bulk_create([
                DeviceInboxMessage(user_id=u, device_id=d, stream_id=position, sender=sender,
                                   message_type=message_type, content=json.dumps(c, ensure_ascii=False))
                for u, d, c in messages])
            on_commit_publish(STREAM, position, [{"user_id": u, "device_id": d} for u, d, _ in messages])
            return position
    except IntegrityError:
        if txn_seen(sender, sender_device, txn_id):
            return None  # a concurrent retry of the same request won
        raise


def pending(user_id: str, device_id: str, since: int, up_to: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
    """[(position, {"sender", "type", "content"})] of the device's messages in (since, up_to], oldest
    first, at most `limit`."""
    rows = (DeviceInboxMessage.objects.filter(user_id=user_id, device_id=device_id, stream_id__gt=since,
                                              stream_id__lte=up_to)
            .order_by("stream_id").values_list("stream_id", "sender", "message_type", "content")[:limit])
    return [(pos, {"sender": sender, "type": t, "content": json.loads(c)}) for pos, sender, t, c in rows]


def delete_delivered(user_id: str, device_id: str, up_to: int) -> int:
    """Delete the device's messages at or below `up_to` (its client synced with a token past them)."""
    deleted, _ = DeviceInboxMessage.objects.filter(user_id=user_id, device_id=device_id,
                                                   stream_id__lte=up_to).delete()
    return deleted


def fetch_rows(from_pos: int, to_pos: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
    """Stream catch-up: one row per recipient device of the messages still queued in (from_pos, to_pos]
    (delivered ones are gone, and nobody needs waking for them)."""
    rows = list(DeviceInboxMessage.objects.filter(stream_id__gt=from_pos, stream_id__lte=to_pos)
                .order_by("stream_id").values_list("stream_id", "user_id", "device_id")[:limit])
    if len(rows) == limit:  # never split one position across two pages: finish the last one
        last = rows[-1][0]
        rows = [r for r in rows if r[0] != last] + list(
            DeviceInboxMessage.objects.filter(stream_id=last).order_by("id")
            .values_list("stream_id", "user_id", "device_id"))
    return [(pos, {"user_id": u, "device_id": d}) for pos, u, d in rows]
