"""The Matrix rules of the user directory (client-server API, "User Directory"; searchUserDirectory).

    POST /user_directory/search     `search`

Who can be found: users joined to a room the searcher is joined to, and users joined to a room whose
join rule is `public` or whose history is `world_readable` (the minimum the spec requires); with
`user_directory.search_all_users`, every active local user as well. Deactivated local users never.
A user matches when every word of the term is found, case-insensitively, in their user ID or display
name. Local users are shown with their profile, remote users with the profile of their latest join event
(the directory's tables, apps.user_directory_index, kept as events are persisted and rebuilt on demand
by `background.rebuild_user_directory` / `manage.py rebuild_user_directory`).

Ranking: an exact match of the display name or localpart first, then a match at the start of a word,
then users with a display name, then with an avatar, then by user ID (`prefer_local_users` puts this
server's users before the rest).
"""
from __future__ import annotations

import re
from typing import Any

from django.conf import settings

from apps.core.errors import Codes, MatrixError

from . import stores

DEFAULT_LIMIT = 10
MAX_LIMIT = 1000
MAX_TERM_LENGTH = 256


def _words(term: str) -> list[str]:
    return [w for w in term.lower().split() if w]


def _matches(words: list[str], user_id: str, display_name: str | None) -> bool:
    text = f"{user_id.lower()} {(display_name or '').lower()}"
    return all(w in text for w in words)


def _rank(words: list[str], user_id: str, display_name: str | None, avatar_url: str | None,
          local: bool, prefer_local: bool) -> tuple:
    localpart = user_id[1:].split(":", 1)[0].lower()
    name = (display_name or "").lower()
    term = " ".join(words)
    exact = term in (localpart, name, user_id.lower())
    boundary = any(re.search(rf"(^|[\s@._-]){re.escape(w)}", f"{user_id.lower()} {name}") for w in words)
    return (prefer_local and not local, not exact, not boundary, display_name is None, avatar_url is None, user_id)


def search(requester, search_term: Any, limit: Any) -> dict[str, Any]:
    if not isinstance(search_term, str):
        raise MatrixError(Codes.BAD_JSON if search_term is not None else Codes.MISSING_PARAM,
                          "search_term must be a string", 400)
    if limit is None:
        limit = DEFAULT_LIMIT
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise MatrixError(Codes.BAD_JSON, "limit must be a non-negative integer", 400)
    limit = min(limit, MAX_LIMIT)
    config = settings.HS.user_directory
    words = _words(search_term[:MAX_TERM_LENGTH])
    if not config.enabled or not words or limit == 0:
        return {"limited": False, "results": []}
    server = settings.HS.server_name
    longest = max(words, key=len)

    local_suffix = f":{server}"
    found: dict[str, tuple[str | None, str | None]] = {
        user_id: profile for user_id, profile in stores.matching_remote_users(requester.user_id, longest).items()
        if not user_id.endswith(local_suffix)}
    # Local users: their own profile, and never a deactivated account.
    for localpart, profile in stores.matching_visible_local_users(requester.user_id, longest).items():
        found[f"@{localpart}{local_suffix}"] = profile
    if config.search_all_users:
        for localpart, profile in stores.matching_local_users(longest).items():
            found[f"@{localpart}{local_suffix}"] = profile

    matched = [(u, n, a) for u, (n, a) in found.items() if _matches(words, u, n)]
    matched.sort(key=lambda r: _rank(words, r[0], r[1], r[2], r[0].endswith(local_suffix),
                                     config.prefer_local_users))
    results = []
    for user_id, name, avatar in matched[:limit]:
        entry: dict[str, Any] = {"user_id": user_id}
        if name:
            entry["display_name"] = name
        if avatar:
            entry["avatar_url"] = avatar
        results.append(entry)
    return {"limited": len(matched) > limit, "results": results}
