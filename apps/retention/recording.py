"""Recording the policy of every valid `m.room.retention` state event, in its persisting transaction
(`apps.rooms.persister.on_event_persisting`), whatever path persisted it: a local send, an event over
federation, the state of a room joined over federation (outliers), a soft-failed event (state resolution
may still make it current). Only a rejected event can never be current state, so it is skipped. Which
recorded event applies to a room is decided when reading, by the room's current state (`stores`)."""
from __future__ import annotations

from apps.rooms.persister import PersistedEvent, on_event_persisting

from . import stores
from .policy import EVENT_TYPE, parse_content


@on_event_persisting
def _on_persisting(persisted: PersistedEvent) -> None:
    event = persisted.event
    if event.type != EVENT_TYPE or event.state_key != "" or event.rejected:
        return
    policy = parse_content(event.content)
    if policy is not None:  # an invalid one is ignored: the room falls back to the default policy
        stores.record_rule(event.event_id, event.room_id, policy)
