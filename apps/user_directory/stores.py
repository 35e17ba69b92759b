"""Every query of the user directory, read from the rooms tables (no directory table of its own yet):
which rooms make their members visible to a searcher, and which of those members match a term.

The SQL narrows candidates (user ID or member event text containing the term, case-insensitively); the
handler decides on the parsed display name. Each read is capped, so a search costs a handful of queries
however large the server; a dedicated index table (kept by the `background` queue, Synapse's
`update_user_directory_from_worker`) is what would replace these reads on a very large server.
"""
from __future__ import annotations

import json
from typing import Iterable

from django.db.models import Q

from apps.rooms.models import CurrentState, EventRow, RoomMembership

MAX_CANDIDATES = 2000


def joined_rooms(user_id: str) -> set[str]:
    return set(RoomMembership.objects.filter(user_id=user_id, membership="join").values_list("room_id", flat=True))


def public_rooms() -> set[str]:
    """Rooms whose current join rule is `public` or whose history is `world_readable` (spec:
    searchUserDirectory, the users a search must at least consider)."""
    ids = CurrentState.objects.filter(type__in=("m.room.join_rules", "m.room.history_visibility"),
                                      state_key="").values("event_id")
    out: set[str] = set()
    for room_id, etype, raw in EventRow.objects.filter(event_id__in=ids).values_list("room_id", "type", "json"):
        content = json.loads(raw).get("content", {})
        if not isinstance(content, dict):
            continue
        if (etype == "m.room.join_rules" and content.get("join_rule") == "public") or \
                (etype == "m.room.history_visibility" and content.get("history_visibility") == "world_readable"):
            out.add(room_id)
    return out


def matching_members(room_ids: Iterable[str], word: str) -> dict[str, dict]:
    """user_id -> content of a join event in one of `room_ids`, for members whose user ID or join event
    contains `word` (case-insensitive): a superset of the matches, at most MAX_CANDIDATES rows read."""
    rooms = list(room_ids)
    if not rooms:
        return {}
    member_events = RoomMembership.objects.filter(room_id__in=rooms, membership="join").values("event_id")
    rows = (EventRow.objects.filter(event_id__in=member_events)
            .filter(Q(state_key__icontains=word) | Q(json__icontains=word))
            .values_list("state_key", "json")[:MAX_CANDIDATES])
    out: dict[str, dict] = {}
    for user_id, raw in rows:
        content = json.loads(raw).get("content")
        out[user_id] = content if isinstance(content, dict) else {}
    return out


def matching_local_users(word: str) -> dict[str, tuple[str | None, str | None]]:
    """localpart -> (displayname, avatar_url) of active local users whose localpart or display name
    contains `word`."""
    from apps.accounts.models import User

    rows = (User.objects.filter(deactivated=False).filter(Q(localpart__icontains=word) | Q(displayname__icontains=word))
            .values_list("localpart", "displayname", "avatar_url")[:MAX_CANDIDATES])
    return {lp: (dn, av) for lp, dn, av in rows}


def local_profiles(localparts: Iterable[str]) -> dict[str, tuple[str | None, str | None, bool]]:
    """localpart -> (displayname, avatar_url, deactivated) of these local accounts."""
    from apps.accounts.models import User

    rows = User.objects.filter(localpart__in=list(localparts)).values_list("localpart", "displayname", "avatar_url",
                                                                           "deactivated")
    return {lp: (dn, av, deact) for lp, dn, av, deact in rows}
