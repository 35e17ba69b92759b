"""The `account_data` stream (global and room account data, tags): how rows are read back on catch-up
(`stores.fetch_rows`) and whom they concern: only the user who owns the data (never the room's members,
though the row names a room)."""
from __future__ import annotations

from apps.streams import registry
from apps.streams.registry import NotifyKeys, Row

from . import stores


def notify_keys(row: Row) -> NotifyKeys:
    user = row.get("user_id")
    return NotifyKeys(user_ids=(user,)) if isinstance(user, str) else NotifyKeys()


registry.attach("account_data", fetch_rows=stores.fetch_rows, notify_keys=notify_keys)
