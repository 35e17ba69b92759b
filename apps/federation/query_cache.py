"""Answers of other servers to profile and alias queries, kept a short while in the shared cache (Django's
cache: Redis when scaled, so every process shares them) so that a client asking again, or several clients
asking about the same user or alias, cost one federation request (apps.federation.queries; a join by
alias resolves it there too, so a client that looked the alias up first is not made to wait twice).

    profile(user_id, field)   GET /_matrix/federation/v1/query/profile     kept PROFILE_TTL seconds
    directory(alias)          GET /_matrix/federation/v1/query/directory   kept ALIAS_TTL seconds

A refusal with 404 M_NOT_FOUND (no such user, field or alias) is kept too, but only NOT_FOUND_TTL seconds,
so a user or alias created meanwhile shows up soon. Nothing else is kept: a server that cannot be reached,
times out, answers another error or an unusable body is asked again next time.

Profiles: one cache entry per user holds the answers for the whole profile ("") and for single fields, each
with its own expiry. A field is answered from a fresh whole profile when there is one (the whole profile
holds every field; a field it lacks is not set). The entry is dropped when a member event of the user
arrives here whose display name or avatar differs from what is kept (`forget_profile_if_changed`, an
in-transaction persister hook registered in apps.federation's ready()), so a profile change seen in a
room is not hidden by the cache for PROFILE_TTL.
"""
from __future__ import annotations

import hashlib
import time
from typing import Any, Callable

from django.core.cache import cache

from apps.core.errors import Codes, MatrixError

PROFILE_TTL = 10 * 60
ALIAS_TTL = 5 * 60
NOT_FOUND_TTL = 60
WHOLE = ""  # the key of the whole profile among a user's kept answers
PROFILE_FIELDS = ("displayname", "avatar_url")  # the profile fields a member event carries

# What is kept for one answer: (expires_at, ("ok", value) or ("missing", error message)). The expiry is
# kept with the answer (the cache entry's own lifetime is only an upper bound: a user's profile entry holds
# answers of different ages).
_OK, _MISSING = "ok", "missing"


def _key(kind: str, name: str) -> str:
    # Hashed: user IDs and aliases may hold characters a cache backend refuses in keys.
    return f"federation:{kind}:" + hashlib.sha256(name.encode()).hexdigest()


def _now() -> float:
    return time.time()


class NotFound(MatrixError):
    """The other server answered 404 M_NOT_FOUND: an answer, kept NOT_FOUND_TTL seconds (a 404 without
    that errcode, such as M_UNRECOGNIZED from a server that does not serve the query, is not kept)."""

    def __init__(self, message: str):
        super().__init__(Codes.NOT_FOUND, message, 404)


def _answer(kept: tuple[str, Any]) -> dict[str, Any]:
    kind, value = kept
    if kind == _MISSING:
        raise NotFound(value)
    return dict(value)


# --- profiles ------------------------------------------------------------------------------------------

def _fresh(entry: Any) -> dict[str, tuple[float, tuple[str, Any]]]:
    """The unexpired answers of a kept profile entry ({field: (expires_at, answer)})."""
    if not isinstance(entry, dict):
        return {}
    now = _now()
    return {f: v for f, v in entry.items() if isinstance(v, tuple) and len(v) == 2 and v[0] > now}


def _kept_profile(answers: dict[str, tuple[float, tuple[str, Any]]], field: str | None) -> tuple[str, Any] | None:
    if field is None:
        hit = answers.get(WHOLE)
        return hit[1] if hit else None
    if field in answers:
        return answers[field][1]
    whole = answers.get(WHOLE)
    if whole is None:
        return None
    kind, value = whole[1]
    if kind == _MISSING:
        return whole[1]
    return (_OK, {field: value[field]} if field in value else {})


def profile(user_id: str, field: str | None, fetch: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The profile (or one field of it) of a user of another server: the kept answer, else `fetch()`'s,
    kept when it is an answer or a 404."""
    key = _key("profile", user_id)
    kept = _kept_profile(_fresh(cache.get(key)), field)
    if kept is not None:
        return _answer(kept)
    try:
        value = fetch()
    except NotFound as e:
        _keep_profile(key, field, (_MISSING, e.error), NOT_FOUND_TTL)
        raise
    _keep_profile(key, field, (_OK, value), PROFILE_TTL)
    return dict(value)


def _keep_profile(key: str, field: str | None, answer: tuple[str, Any], ttl: int) -> None:
    # Read, add, write: two lookups racing may each keep only their own answer, which costs a request later,
    # never a wrong answer.
    answers = _fresh(cache.get(key))
    answers[WHOLE if field is None else field] = (_now() + ttl, answer)
    cache.set(key, answers, max(int(expires - _now()) + 1 for expires, _ in answers.values()))


def forget_profile(user_id: str) -> None:
    cache.delete(_key("profile", user_id))


def forget_profile_if_changed(user_id: str, content: dict[str, Any]) -> bool:
    """Drop the kept profile of `user_id` when a member event's `content` shows another display name or
    avatar than a kept answer; True when it did."""
    key = _key("profile", user_id)
    answers = _fresh(cache.get(key))
    if not answers:
        return False
    seen = {f: content.get(f) for f in PROFILE_FIELDS}
    for field, (_expires, (kind, value)) in answers.items():
        if field == WHOLE:
            # A user said not to exist has a member event now; else compare both fields.
            changed = kind == _MISSING or any(value.get(f) != v for f, v in seen.items())
        elif field in seen:
            changed = (seen[field] is not None) if kind == _MISSING else value.get(field) != seen[field]
        else:
            changed = False  # another field: member events do not carry it
        if changed:
            cache.delete(key)
            return True
    return False


def on_member_event(persisted) -> None:
    """Persister hook: a remote user's own join (a profile change is one) with a display name or avatar
    other than a kept answer of their profile drops it."""
    from django.conf import settings

    from apps.core.ids import server_name_of

    event = persisted.event
    if event.type != "m.room.member" or event.membership != "join":
        return
    meta = event.internal
    user_id = event.state_key
    # Timeline events only: the room state a join over federation brings (outliers) is old news, and may
    # hold thousands of member events.
    if (persisted.stream_ordering is None or meta.outlier or event.rejected or meta.soft_failed
            or not isinstance(user_id, str) or user_id != event.sender or ":" not in user_id
            or server_name_of(user_id) == settings.HS.server_name):
        return
    forget_profile_if_changed(user_id, event.content)


# --- aliases -------------------------------------------------------------------------------------------

def directory(alias: str, fetch: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """{room_id, servers} of an alias of another server: the kept answer, else `fetch()`'s, kept when it
    is an answer or a 404."""
    key = _key("alias", alias)
    kept = cache.get(key)
    if isinstance(kept, tuple) and len(kept) == 2 and kept[0] > _now():
        return _answer(kept[1])
    try:
        value = fetch()
    except NotFound as e:
        cache.set(key, (_now() + NOT_FOUND_TTL, (_MISSING, e.error)), NOT_FOUND_TTL)
        raise
    cache.set(key, (_now() + ALIAS_TTL, (_OK, value)), ALIAS_TTL)
    return dict(value)


def forget_alias(alias: str) -> None:
    cache.delete(_key("alias", alias))
