"""Moving a room to another event persister while clients keep sending, without a restart.

The fence is the row of `room_persisters`: every persisting transaction locks it (with the room) and
checks that this instance is the room's persister before writing (`persister._lock_room`). A hand-over
is one transaction that locks the same row and names the new persister, so:

- an event the old persister is writing holds the lock: the hand-over waits for its commit;
- once the hand-over commits, the old persister refuses the room's events (`RoomMoved`), and whoever
  handed them over asks again and reaches the new persister (`persister.send_to_persister` retries);
- the new persister's events take positions from the shared sequence after that commit, so they follow
  every event of the old one in the stream: nothing is lost, duplicated or reordered.

Only configured event persisters (`stream_writers.events`) can take a room: readers wait for exactly
those writers when they compute what is safe to read.
"""
from __future__ import annotations

from django.db import transaction

from apps.core.errors import Codes, MatrixError

from .models import RoomPersister

# The status of a refused hand-over: the caller asks again (the errcode is ours; it never reaches clients).
MOVED_STATUS = 409
ROOM_MOVED = "HS_ROOM_MOVED"


class RoomMoved(MatrixError):
    def __init__(self, room_id: str, writer: str):
        super().__init__(ROOM_MOVED, f"{room_id} is now persisted by {writer}", MOVED_STATUS, writer=writer)
        self.writer = writer


def move_room(room_id: str, target: str) -> str:
    """Assign `room_id` to the event persister `target`; returns the previous persister."""
    from hsproject import instance

    writers = instance.writers_of("events")
    if target not in writers:
        raise MatrixError(Codes.INVALID_PARAM,
                          f"{target!r} is not an event persister (stream_writers.events: {', '.join(writers)})", 400)
    with transaction.atomic():
        row = RoomPersister.objects.select_for_update().filter(room_id=room_id).first()
        if row is None:
            raise MatrixError(Codes.NOT_FOUND, f"Unknown room {room_id}", 404)
        previous = row.instance_name
        if previous != target:
            RoomPersister.objects.filter(room_id=room_id).update(instance_name=target)
    return previous
