"""After the commit of every persisted event: a state event that became current state cancels other users'
pending delayed events for the same state (handlers.state_event_persisted). Registered by apps.py."""
from __future__ import annotations

from apps.rooms.persister import PersistedEvent, on_event_persisted


@on_event_persisted
def _state_supersedes_delayed_state(persisted: PersistedEvent) -> None:
    event = persisted.event
    meta = event.internal
    if not event.is_state() or persisted.stream_ordering is None or meta.outlier or meta.soft_failed \
            or event.rejected:
        return
    from .handlers import state_event_persisted

    state_event_persisted(event.room_id, event.type, event.state_key, event.event_id, event.sender)
