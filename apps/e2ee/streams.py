"""The `device_lists` stream as the replication machinery sees it.

A row says that `user_id`'s devices or cross-signing keys changed (`device_id` names the device, None for
cross-signing keys or signatures). It wakes the long-polls of everyone who shares a room with the user:
the row carries the rooms the user was joined to when it was written (`room_ids`), and the user's own
long-polls (their other devices). A row with `visible_to` concerns that user alone (a signature made
with their user-signing key).
"""
from __future__ import annotations

from apps.streams import registry
from apps.streams.registry import NotifyKeys, Row

from . import stores


def fetch_rows(from_pos: int, to_pos: int, limit: int) -> list[tuple[int, Row]]:
    rows = stores.device_list_rows(from_pos, to_pos, limit)
    rooms = stores.joined_rooms_of_users({u for _, u, _, v in rows if v is None})
    return [(pos, stream_row(user_id, device_id, visible_to, rooms.get(user_id, ())))
            for pos, user_id, device_id, visible_to in rows]


def stream_row(user_id: str, device_id: str | None, visible_to: str | None, room_ids) -> Row:
    return {"user_id": user_id, "changed_device_id": device_id, "visible_to": visible_to,
            "room_ids": [] if visible_to is not None else sorted(room_ids)}


def notify_keys(row: Row) -> NotifyKeys:
    visible_to = row.get("visible_to")
    if isinstance(visible_to, str):
        return NotifyKeys(user_ids=(visible_to,))
    user_id = row.get("user_id")
    rooms = row.get("room_ids") or ()
    return NotifyKeys(user_ids=(user_id,) if isinstance(user_id, str) else (),
                      room_ids=tuple(r for r in rooms if isinstance(r, str)))


registry.attach("device_lists", fetch_rows=fetch_rows, notify_keys=notify_keys)
