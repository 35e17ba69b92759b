"""Database access of room aliases, the published room directory and room upgrades
(`aliases`, `directory`, `upgrade`). Kept apart from `stores` so the directory's queries live in one place.

The public-rooms listing reads in two queries whatever the number of published rooms: the joined
member counts of the published rooms, then the current-state events that the listing shows (name,
topic, avatar, canonical alias, join rules, history visibility, guest access, create) of all of them.
"""
from __future__ import annotations

import json
from typing import Iterable

from django.db import IntegrityError, transaction
from django.db.models import Count

from .models import CurrentState, EventRow, Room, RoomAlias, RoomMembership

# The state the published room directory shows (all with state_key "").
DIRECTORY_STATE_TYPES = ("m.room.create", "m.room.name", "m.room.topic", "m.room.avatar", "m.room.canonical_alias",
                         "m.room.join_rules", "m.room.history_visibility", "m.room.guest_access")


# --- aliases -----------------------------------------------------------------------------------------

def alias_room_id(alias: str) -> str | None:
    return RoomAlias.objects.filter(alias=alias).values_list("room_id", flat=True).first()


def alias_row(alias: str) -> tuple[str, str] | None:
    """(room_id, creator) of a local alias."""
    return RoomAlias.objects.filter(alias=alias).values_list("room_id", "creator").first()


def create_alias(alias: str, room_id: str, creator: str) -> bool:
    """Insert the mapping; False when the alias is taken (also when a concurrent request won)."""
    try:
        with transaction.atomic():
            RoomAlias.objects.create(alias=alias, room_id=room_id, creator=creator)
    except IntegrityError:
        return False
    return True


def delete_alias(alias: str) -> bool:
    return RoomAlias.objects.filter(alias=alias).delete()[0] > 0


def aliases_of_room(room_id: str) -> list[str]:
    return list(RoomAlias.objects.filter(room_id=room_id).order_by("created", "alias").values_list("alias", flat=True))


def move_aliases(old_room_id: str, new_room_id: str) -> int:
    return RoomAlias.objects.filter(room_id=old_room_id).update(room_id=new_room_id)


def joined_servers(room_id: str) -> list[str]:
    """The server names of the room's joined members (each once)."""
    users = RoomMembership.objects.filter(room_id=room_id, membership="join").values_list("user_id", flat=True)
    return list(dict.fromkeys(u.split(":", 1)[1] for u in users if ":" in u))


# --- publication -------------------------------------------------------------------------------------

def is_published(room_id: str) -> bool | None:
    """Whether the room is in the published room directory; None for an unknown room."""
    return Room.objects.filter(room_id=room_id).values_list("is_public", flat=True).first()


def set_published(room_id: str, published: bool) -> None:
    Room.objects.filter(room_id=room_id).update(is_public=published)


def published_rooms_with_members(room_ids: Iterable[str] | None = None) -> dict[str, int]:
    """room_id -> joined members (local view) of every published room with at least one member (or of
    `room_ids`, an application service's list for one network)."""
    rooms = {"room__is_public": True} if room_ids is None else {"room_id__in": list(room_ids)}
    rows = (RoomMembership.objects.filter(membership="join", **rooms)
            .values("room_id").annotate(n=Count("id")).values_list("room_id", "n"))
    return dict(rows)


def published_rooms_state(room_ids: Iterable[str] | None = None) -> dict[str, dict[str, dict]]:
    """room_id -> {event type -> content} of the `DIRECTORY_STATE_TYPES` current state of every
    published room (or of `room_ids`), in one query (a join of current state and events)."""
    rooms = {"room__is_public": True} if room_ids is None else {"room_id__in": list(room_ids)}
    event_ids = CurrentState.objects.filter(state_key="", type__in=DIRECTORY_STATE_TYPES,
                                            **rooms).values("event_id")
    out: dict[str, dict[str, dict]] = {}
    for room_id, etype, raw in EventRow.objects.filter(event_id__in=event_ids).values_list("room_id", "type", "json"):
        content = json.loads(raw).get("content")
        out.setdefault(room_id, {})[etype] = content if isinstance(content, dict) else {}
    return out


# --- state of one room (upgrade, permission checks) --------------------------------------------------

def current_state_ids(room_id: str, types: Iterable[str]) -> dict[tuple[str, str], str]:
    rows = CurrentState.objects.filter(room_id=room_id, type__in=list(types)).values_list("type", "state_key",
                                                                                           "event_id")
    return {(t, sk): eid for t, sk, eid in rows}
