"""Every query of the user directory. What can be found lives in the directory's tables
(apps.user_directory_index: remote users' profiles, the public rooms), in the accounts (local users:
profile and deactivation, as they are now) and in `room_memberships` (who is joined where, current).

A search is a fixed handful of queries however large the server: one for the remote users and one for
the local users who are joined to a room the searcher is joined to or to a public room and whose user
ID or display name contains the term (case-insensitively), each capped at MAX_CANDIDATES; the handler
decides on the whole term.
"""
from __future__ import annotations

from django.conf import settings
from django.db.models import CharField, Q, Value
from django.db.models.functions import Concat

from apps.rooms.models import RoomMembership
from apps.user_directory_index.models import DirectoryEntry, DirectoryPublicRoom

MAX_CANDIDATES = 2000


def _visible_members(user_id: str):
    """Subquery: users joined to a room `user_id` is joined to, or to a public room."""
    shared = RoomMembership.objects.filter(user_id=user_id, membership="join").values("room_id")
    public = DirectoryPublicRoom.objects.values("room_id")
    return RoomMembership.objects.filter(Q(room_id__in=shared) | Q(room_id__in=public),
                                         membership="join").values("user_id")


def matching_remote_users(searcher: str, word: str) -> dict[str, tuple[str | None, str | None]]:
    """user_id -> (display name, avatar URL) of remote users visible to `searcher` whose user ID or
    display name contains `word` (case-insensitive)."""
    rows = (DirectoryEntry.objects.filter(user_id__in=_visible_members(searcher))
            .filter(Q(user_id__icontains=word) | Q(display_name__icontains=word))
            .values_list("user_id", "display_name", "avatar_url")[:MAX_CANDIDATES])
    return {u: (n, a) for u, n, a in rows}


def matching_visible_local_users(searcher: str, word: str) -> dict[str, tuple[str | None, str | None]]:
    """localpart -> (displayname, avatar_url) of active local users visible to `searcher` whose user ID or
    display name contains `word` (case-insensitive)."""
    from apps.accounts.models import User

    suffix = f":{settings.HS.server_name}"
    rows = (User.objects.filter(deactivated=False)
            .annotate(full_id=Concat(Value("@"), "localpart", Value(suffix), output_field=CharField()))
            .filter(full_id__in=_visible_members(searcher))
            .filter(Q(full_id__icontains=word) | Q(displayname__icontains=word))
            .values_list("localpart", "displayname", "avatar_url")[:MAX_CANDIDATES])
    return {lp: (dn, av) for lp, dn, av in rows}


def matching_local_users(word: str) -> dict[str, tuple[str | None, str | None]]:
    """localpart -> (displayname, avatar_url) of active local users whose localpart or display name
    contains `word` (`search_all_users`)."""
    from apps.accounts.models import User

    rows = (User.objects.filter(deactivated=False).filter(Q(localpart__icontains=word) | Q(displayname__icontains=word))
            .values_list("localpart", "displayname", "avatar_url")[:MAX_CANDIDATES])
    return {lp: (dn, av) for lp, dn, av in rows}
