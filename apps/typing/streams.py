"""The `typing` stream as the replication machinery sees it: rows `{"room_id", "user_ids"}` (the room's
whole typing list after the change), read back from `typing_rooms` on catch-up. A row concerns the room's
members (the default notify keys read `room_id`)."""
from __future__ import annotations

from apps.streams import registry

from . import stores

registry.attach("typing", fetch_rows=stores.rows_between)
