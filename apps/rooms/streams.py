"""The `events` stream as the replication machinery sees it (STYLE section 3: apps attach their streams
from their `streams.py`).

- `fetch_rows(from_pos, to_pos, limit)`: the rows of the events with a stream position in
  `(from_pos, to_pos]`, read back from the `events` table, for a process that missed live messages
  (Redis reconnect, gap). They are the same rows the persister publishes (`persister.stream_row`).
- `notify_keys(row)`: the room, and for a member event its target user too: an invite or a join must
  wake the target's `/sync`, who is not (yet) waiting on the room.
"""
from __future__ import annotations

import json

from apps.streams import registry
from apps.streams.registry import NotifyKeys, Row

from .models import EventRow


def fetch_rows(from_pos: int, to_pos: int, limit: int) -> list[tuple[int, Row]]:
    rows = (EventRow.objects.filter(stream_ordering__gt=from_pos, stream_ordering__lte=to_pos)
            .order_by("stream_ordering")
            .values_list("stream_ordering", "room_id", "event_id", "type", "state_key", "sender", "json",
                         "outlier", "rejected_reason", "soft_failed")[:limit])
    out: list[tuple[int, Row]] = []
    for pos, room_id, event_id, etype, state_key, sender, raw, outlier, rejected, soft_failed in rows:
        membership = None
        if etype == "m.room.member":
            m = json.loads(raw).get("content", {}).get("membership")
            membership = m if isinstance(m, str) else None
        out.append((pos, {"room_id": room_id, "event_id": event_id, "type": etype, "state_key": state_key,
                          "sender": sender, "membership": membership,
                          "in_timeline": not outlier and rejected is None and not soft_failed}))
    return out


def notify_keys(row: Row) -> NotifyKeys:
    room_id = row.get("room_id")
    if not isinstance(room_id, str):
        return NotifyKeys()
    users: tuple[str, ...] = ()
    if row.get("type") == "m.room.member" and isinstance(row.get("state_key"), str):
        users = (row["state_key"],)
    return NotifyKeys(user_ids=users, room_ids=(room_id,))


registry.attach("events", fetch_rows=fetch_rows, notify_keys=notify_keys)
