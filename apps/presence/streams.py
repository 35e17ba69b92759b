"""The `presence` stream as the replication machinery sees it: rows `{"user_id", "room_ids"}`, read back
from the `presence` table on catch-up. A change concerns the user and everyone in the rooms they are
joined to (a /sync long-poll waits on its user and its joined rooms: `apps.sync.handlers.wait_keys`)."""
from __future__ import annotations

from apps.streams import registry
from apps.streams.registry import NotifyKeys, Row

from . import stores


def notify_keys(row: Row) -> NotifyKeys:
    user_id = row.get("user_id")
    rooms = row.get("room_ids")
    return NotifyKeys(user_ids=(user_id,) if isinstance(user_id, str) else (),
                      room_ids=tuple(r for r in rooms if isinstance(r, str)) if isinstance(rooms, list) else ())


registry.attach("presence", fetch_rows=stores.rows_between, notify_keys=notify_keys)
