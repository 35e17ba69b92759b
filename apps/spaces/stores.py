"""Reads of the spaces endpoints: what a summary of a local room is made of, from its current
state (`apps.rooms.state_store`) and memberships, a few queries per room."""
from __future__ import annotations

from dataclasses import dataclass, field

from apps.rooms import state_store
from apps.rooms import stores as room_stores
from apps.rooms.events import Event
from apps.rooms.models import RoomMembership

SUMMARY_TYPES = ("m.room.create", "m.room.join_rules", "m.room.history_visibility", "m.room.name",
                 "m.room.topic", "m.room.avatar", "m.room.canonical_alias", "m.room.guest_access",
                 "m.room.encryption", "m.space.child")


@dataclass
class RoomInfo:
    room_id: str
    room_version: str
    state: dict[tuple[str, str], Event] = field(default_factory=dict)
    joined_members: int = 0

    def content(self, event_type: str, state_key: str = "") -> dict:
        ev = self.state.get((event_type, state_key))
        return ev.content if ev is not None and isinstance(ev.content, dict) else {}

    def children(self) -> list[Event]:
        return [ev for (t, _), ev in self.state.items() if t == "m.space.child"]


def room_info(room_id: str) -> RoomInfo | None:
    """The summary state of a room this server has, or None."""
    room = room_stores.get_room(room_id)
    if room is None:
        return None
    ids = state_store.current_state(room_id, types=SUMMARY_TYPES)
    events = room_stores.get_events(ids.values())
    joined = RoomMembership.objects.filter(room_id=room_id, membership="join").count()
    return RoomInfo(room_id=room_id, room_version=room.room_version,
                    state={k: events[v] for k, v in ids.items() if v in events}, joined_members=joined)


def membership(room_id: str, user_id: str) -> str | None:
    row = room_stores.membership_of(room_id, user_id)
    return row[0] if row is not None else None


def joined_any(user_id: str, room_ids: list[str]) -> bool:
    return RoomMembership.objects.filter(user_id=user_id, room_id__in=room_ids, membership="join").exists()
