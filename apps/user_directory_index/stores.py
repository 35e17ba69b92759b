"""Every query of the user directory's tables (`models`), and the reads of the rooms tables that
compute them. Writes are upserts and deletes, so doing one twice changes nothing."""
from __future__ import annotations

import json
from typing import Iterable

from django.conf import settings

from apps.rooms.models import CurrentState, EventRow, Room, RoomMembership

from .models import DirectoryEntry, DirectoryPublicRoom

VISIBILITY_TYPES = ("m.room.join_rules", "m.room.history_visibility")


def local_suffix() -> str:
    return f":{settings.HS.server_name}"


def _text(value) -> str | None:
    return value if isinstance(value, str) else None


def profile_of(content) -> tuple[str | None, str | None]:
    """(display name, avatar URL) of a member event's content; a value that is not a string is none."""
    if not isinstance(content, dict):
        return None, None
    return _text(content.get("displayname")), _text(content.get("avatar_url"))


def makes_public(etype: str, content) -> bool:
    """Whether this current-state event opens the room's members to every searcher (spec:
    searchUserDirectory: a public join rule, or world-readable history)."""
    if not isinstance(content, dict):
        return False
    return (etype == "m.room.join_rules" and content.get("join_rule") == "public") or \
        (etype == "m.room.history_visibility" and content.get("history_visibility") == "world_readable")


# --- entries ---------------------------------------------------------------------------------------------------

def save_entries(profiles: dict[str, tuple[str | None, str | None]]) -> None:
    if profiles:
        DirectoryEntry.objects.bulk_create(
            [DirectoryEntry(user_id=u, display_name=n, avatar_url=a) for u, (n, a) in profiles.items()],
            update_conflicts=True, unique_fields=["user_id"], update_fields=["display_name", "avatar_url"])


def remote_joined_users_after(last: str, limit: int) -> list[str]:
    """Remote users joined to at least one room, in user ID order after `last`."""
    return list(RoomMembership.objects.filter(membership="join", user_id__gt=last)
                .exclude(user_id__endswith=local_suffix()).order_by("user_id")
                .values_list("user_id", flat=True).distinct()[:limit])


def latest_join_profiles(user_ids: list[str]) -> dict[str, tuple[str | None, str | None]]:
    """user_id -> profile of their latest current join event (two queries)."""
    latest: dict[str, tuple[int, str]] = {}
    for user_id, event_id, position in RoomMembership.objects.filter(
            membership="join", user_id__in=user_ids).values_list("user_id", "event_id", "stream_ordering"):
        if user_id not in latest or position > latest[user_id][0]:
            latest[user_id] = (position, event_id)
    by_event = {event_id: user_id for user_id, (_, event_id) in latest.items()}
    out: dict[str, tuple[str | None, str | None]] = {u: (None, None) for u in latest}
    for event_id, raw in EventRow.objects.filter(event_id__in=list(by_event)).values_list("event_id", "json"):
        out[by_event[event_id]] = profile_of(json.loads(raw).get("content"))
    return out


def entries_after(last: str, limit: int) -> list[str]:
    return list(DirectoryEntry.objects.filter(user_id__gt=last).order_by("user_id")
                .values_list("user_id", flat=True)[:limit])


def delete_entries_not_joined(user_ids: list[str]) -> int:
    """Remove the entries of these users that are local or joined to no room (two queries)."""
    joined = set(RoomMembership.objects.filter(membership="join", user_id__in=user_ids)
                 .exclude(user_id__endswith=local_suffix()).values_list("user_id", flat=True).distinct())
    gone = [u for u in user_ids if u not in joined]
    if not gone:
        return 0
    return DirectoryEntry.objects.filter(user_id__in=gone).delete()[0]


# --- public rooms ----------------------------------------------------------------------------------------------

def public_among(room_ids: Iterable[str]) -> set[str]:
    """Those of `room_ids` whose current state makes their members public (one query)."""
    rooms = list(room_ids)
    if not rooms:
        return set()
    ids = CurrentState.objects.filter(room_id__in=rooms, type__in=VISIBILITY_TYPES, state_key="").values("event_id")
    return {room_id for room_id, etype, raw in EventRow.objects.filter(event_id__in=ids).values_list(
        "room_id", "type", "json") if makes_public(etype, json.loads(raw).get("content"))}


def set_public_rooms(room_ids: list[str], public: set[str]) -> None:
    """Record which of `room_ids` are public: `public` listed, the others not."""
    DirectoryPublicRoom.objects.filter(room_id__in=[r for r in room_ids if r not in public]).delete()
    if public:
        DirectoryPublicRoom.objects.bulk_create([DirectoryPublicRoom(room_id=r) for r in sorted(public)],
                                                ignore_conflicts=True)


def rooms_after(last: str, limit: int) -> list[str]:
    return list(Room.objects.filter(room_id__gt=last).order_by("room_id").values_list("room_id", flat=True)[:limit])

