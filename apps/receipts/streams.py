"""The `receipts` stream as the replication machinery sees it: rows read back from the `receipts` table
on catch-up, and whom they concern: a public receipt wakes the room, a private one only its owner
(spec: servers MUST NOT send `m.read.private` to anyone else)."""
from __future__ import annotations

from apps.streams import registry
from apps.streams.registry import NotifyKeys, Row

from . import stores


def notify_keys(row: Row) -> NotifyKeys:
    user, room = row.get("user_id"), row.get("room_id")
    if row.get("receipt_type") == stores.PRIVATE:
        return NotifyKeys(user_ids=(user,) if isinstance(user, str) else ())
    return NotifyKeys(room_ids=(room,) if isinstance(room, str) else ())


registry.attach("receipts", fetch_rows=stores.fetch_rows, notify_keys=notify_keys)
