"""Reads of the spaces endpoints: what a summary of a local room is made of, from its current
state and memberships, for a batch of rooms at once (a space's children); which of a batch of rooms
this server (or another server) is in."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from django.db.models import Count

from apps.rooms import stores as room_stores
from apps.rooms.events import Event
from apps.rooms.models import CurrentState, Room, RoomMembership

SUMMARY_TYPES = ("m.room.create", "m.room.join_rules", "m.room.history_visibility", "m.room.name",
                 "m.room.topic", "m.room.avatar", "m.room.canonical_alias", "m.room.guest_access",
                 "m.room.encryption", "m.space.child", "m.room.server_acl")


@dataclass
class RoomInfo:
    room_id: str
    room_version: str
    state: dict[tuple[str, str], Event] = field(default_factory=dict)
    joined_members: int = 0
    # The requesting user's membership (forgotten memberships count as none).
    membership: str | None = None

    def content(self, event_type: str, state_key: str = "") -> dict:
        ev = self.state.get((event_type, state_key))
        return ev.content if ev is not None and isinstance(ev.content, dict) else {}

    def children(self) -> list[Event]:
        return [ev for (t, _), ev in self.state.items() if t == "m.space.child"]


def room_infos(room_ids: Iterable[str], user_id: str | None = None) -> dict[str, RoomInfo]:
    """The summary state of the rooms of `room_ids` this server has (and `user_id`'s membership of
    each), in five queries whatever their number."""
    ids = list(dict.fromkeys(room_ids))
    versions = dict(Room.objects.filter(room_id__in=ids).values_list("room_id", "room_version"))
    if not versions:
        return {}
    rows = list(CurrentState.objects.filter(room_id__in=list(versions), type__in=SUMMARY_TYPES)
                .values_list("room_id", "type", "state_key", "event_id"))
    events = room_stores.get_events(eid for *_, eid in rows)
    joined = dict(RoomMembership.objects.filter(room_id__in=list(versions), membership="join")
                  .values("room_id").annotate(n=Count("id")).values_list("room_id", "n"))
    memberships = {}
    if user_id is not None:
        memberships = dict(RoomMembership.objects.filter(room_id__in=list(versions), user_id=user_id, forgotten=False)
                           .values_list("room_id", "membership"))
    out = {r: RoomInfo(room_id=r, room_version=v, joined_members=joined.get(r, 0), membership=memberships.get(r))
           for r, v in versions.items()}
    for room_id, t, sk, eid in rows:
        if eid in events:
            out[room_id].state[(t, sk)] = events[eid]
    return out


def room_info(room_id: str, user_id: str | None = None) -> RoomInfo | None:
    """The summary state of a room this server has, or None."""
    return room_infos([room_id], user_id).get(room_id)


def joined_any(user_id: str, room_ids: list[str]) -> bool:
    return RoomMembership.objects.filter(user_id=user_id, room_id__in=room_ids, membership="join").exists()


def rooms_with_members_of(server_name: str, room_ids: Iterable[str],
                          memberships: tuple[str, ...] = ("join",)) -> set[str]:
    """The rooms of `room_ids` where a user of `server_name` has one of `memberships`, in one query."""
    ids = list(dict.fromkeys(room_ids))
    if not ids:
        return set()
    return set(RoomMembership.objects.filter(room_id__in=ids, membership__in=list(memberships),
                                             user_id__endswith=":" + server_name)
               .values_list("room_id", flat=True).distinct())


def server_joined_any(server_name: str, room_ids: list[str]) -> bool:
    return bool(room_ids) and RoomMembership.objects.filter(
        room_id__in=room_ids, membership="join", user_id__endswith=":" + server_name).exists()


def memberships_of(user_id: str, room_ids: Iterable[str]) -> dict[str, str]:
    """`user_id`'s membership of each of `room_ids` it has one in (forgotten ones count as none)."""
    ids = list(dict.fromkeys(room_ids))
    if not ids:
        return {}
    return dict(RoomMembership.objects.filter(room_id__in=ids, user_id=user_id, forgotten=False)
                .values_list("room_id", "membership"))
