"""POST /_matrix/client/v3/search (client-server API, "Server Side Search"): the `room_events` category.

Searched: the rooms the user is or was in (joined, left, banned; not forgotten), narrowed by the
request's RoomEventFilter; of them, only events the user may see (`apps.rooms.visibility`: nothing
said after they left, history visibility at each event), not redacted, not sent by a user they ignore. Matching is on whole
words of the search term as prefixes, all of them required (PostgreSQL full text with english
stemming, or FTS5 on SQLite; see `stores`).

`order_by`: `rank` (default; PostgreSQL `ts_rank_cd` or SQLite FTS5 `bm25`, then newest) or `recent`.
Pagination: the same request again with `next_batch`; the token carries the order, the position (an
offset for `rank`, a stream position for `recent`) and, for a group's token, the group it is scoped to. `count` counts the
matching rows of the searched rooms before history visibility (the spec allows an estimate).
`groupings` partitions a page by `room_id` or `sender`; `event_context` adds the events around each
result (`apps.rooms.timeline.paginate`) and, with `include_profile`, the senders' profiles at the
result; `include_state` the state of each room with results (current while joined, else at leaving).
Results carry bundled aggregations.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
import time
from typing import Any

from apps.core.errors import Codes, MatrixError
from apps.rooms import serialize, state_store
from apps.rooms import stores as room_stores
from apps.rooms.events import Event
from apps.rooms.filters import RoomEventFilter
from apps.rooms.pagination import RoomToken
from apps.rooms.redactions import apply_redactions
from apps.rooms.timeline import paginate
from apps.rooms.visibility import filter_events_for_user

from . import stores
from .index import KEYS


def ignored_by(user_id: str) -> frozenset[str]:
    """The users `user_id` ignores (account data `m.ignored_user_list`)."""
    from apps.account_data.stores import ignored_users

    return ignored_users(user_id)

DEFAULT_LIMIT = 10
MAX_LIMIT = 100
MAX_CONTEXT = 20
MAX_ROUNDS = 3
_WORD = re.compile(r"\w+")
_TOKEN_PREFIX = "s1."


def _bad(msg: str) -> MatrixError:
    return MatrixError(Codes.BAD_JSON, msg, 400)


def _now_ms() -> int:
    return int(time.time() * 1000)


# --- request -----------------------------------------------------------------------------------------

class Criteria:
    def __init__(self, raw: Any):
        if not isinstance(raw, dict):
            raise _bad("room_events must be an object")
        term = raw.get("search_term")
        if term is None:
            raise MatrixError(Codes.MISSING_PARAM, "Missing parameter: search_term", 400)
        if not isinstance(term, str):
            raise _bad("search_term must be a string")
        self.term = term
        keys = raw.get("keys")
        if keys is None:
            keys = list(KEYS)
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise _bad("keys must be a list of strings")
        unknown = [k for k in keys if k not in KEYS]
        if unknown:
            raise MatrixError(Codes.INVALID_PARAM, f"Unknown search keys: {unknown}", 400)
        self.keys = keys
        self.filter = RoomEventFilter.parse(raw.get("filter"), "filter.")
        order = raw.get("order_by", "rank")
        if order not in ("rank", "recent"):
            raise MatrixError(Codes.INVALID_PARAM, "order_by must be 'rank' or 'recent'", 400)
        self.order = order
        ctx = raw.get("event_context")
        self.context: dict[str, Any] | None = None
        if ctx is not None:
            if not isinstance(ctx, dict):
                raise _bad("event_context must be an object")
            self.context = {"before": _count(ctx, "before_limit", 5), "after": _count(ctx, "after_limit", 5),
                            "profile": _flag(ctx, "include_profile")}
        self.include_state = _flag(raw, "include_state")
        self.group_by: list[str] = []
        groupings = raw.get("groupings")
        if groupings is not None:
            group_by = groupings.get("group_by") if isinstance(groupings, dict) else None
            if not isinstance(group_by, (list, type(None))):
                raise _bad("groupings.group_by must be a list")
            for g in group_by or []:
                key = g.get("key") if isinstance(g, dict) else None
                if key not in ("room_id", "sender"):
                    raise MatrixError(Codes.INVALID_PARAM, "group_by keys must be 'room_id' or 'sender'", 400)
                if key not in self.group_by:
                    self.group_by.append(key)


def _count(raw: dict, key: str, default: int) -> int:
    value = raw.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _bad(f"event_context.{key} must be a non-negative integer")
    return min(value, MAX_CONTEXT)


def _flag(raw: dict, key: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise _bad(f"{key} must be a boolean")
    return value


def _encode(order: str, position: int, group: tuple[str, str] | None) -> str:
    data = {"o": order, "p": position}
    if group is not None:
        data["g"] = list(group)
    raw = json.dumps(data, separators=(",", ":")).encode()
    return _TOKEN_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(token: str) -> tuple[str, int, tuple[str, str] | None]:
    invalid = MatrixError(Codes.INVALID_PARAM, "Invalid next_batch token", 400)
    if not token.startswith(_TOKEN_PREFIX) or len(token) > 2048:
        raise invalid
    body = token[len(_TOKEN_PREFIX):]
    try:
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid from None
    if not isinstance(data, dict) or data.get("o") not in ("rank", "recent"):
        raise invalid
    position, group = data.get("p"), data.get("g")
    if not isinstance(position, int) or isinstance(position, bool) or position < 0:
        raise invalid
    if group is not None:
        if (not isinstance(group, list) or len(group) != 2 or group[0] not in ("room_id", "sender")
                or not isinstance(group[1], str)):
            raise invalid
        group = (group[0], group[1])
    return data["o"], position, group


# --- search ------------------------------------------------------------------------------------------

def search(requester, body: dict, next_batch: str | None) -> dict[str, Any]:
    categories = body.get("search_categories")
    if categories is None:
        raise MatrixError(Codes.MISSING_PARAM, "Missing parameter: search_categories", 400)
    if not isinstance(categories, dict):
        raise _bad("search_categories must be an object")
    if "room_events" not in categories:
        return {"search_categories": {}}
    criteria = Criteria(categories["room_events"])
    return {"search_categories": {"room_events": _room_events(requester, criteria, next_batch)}}


def _room_events(requester, c: Criteria, next_batch: str | None) -> dict[str, Any]:
    user_id = requester.user_id
    position, group = None, None
    if next_batch is not None:
        order, position, group = _decode(next_batch)
        if order != c.order:
            raise MatrixError(Codes.INVALID_PARAM, "next_batch belongs to a search with another order_by", 400)
    filt = c.filter
    rooms = [r for r in room_stores.room_ids_for_user(user_id, ("join", "leave", "ban")) if filt.allows_room(r)]
    senders = filt.senders
    if group is not None:
        if group[0] == "room_id":
            rooms = [r for r in rooms if r == group[1]]
        else:
            senders = (group[1],) if senders is None or group[1] in senders else ()
    words = list(dict.fromkeys(w.lower() for w in _WORD.findall(c.term)))
    empty = {"count": 0, "results": [], "highlights": []}
    if not words or not rooms:
        return empty

    # Events of ignored users are left out as everywhere else they would be served ("Ignoring users").
    ignored = ignored_by(user_id)
    qs = stores.matching(rooms, c.keys, words, senders=senders, not_senders=(*filt.not_senders, *ignored),
                         types=filt.exact_types, not_types=filt.exact_not_types)
    count = qs.count()
    limit = min(filt.limit if filt.limit is not None else DEFAULT_LIMIT, MAX_LIMIT)

    picked: list[tuple[Event, float]] = []
    highlights: set[str] = set()
    more = False
    batch = limit + 1
    for _ in range(MAX_ROUNDS):
        rows = stores.page(qs, order=c.order, position=position, count=batch)
        found = room_stores.get_events(eid for eid, _, _, _ in rows)
        shown = {e.event_id for e in filter_events_for_user(user_id, list(found.values()))
                 if filt.allows_event(e)}
        full = False
        for i, (eid, rank, so, value) in enumerate(rows):
            position = so if c.order == "recent" else (position or 0) + 1
            if eid in shown:
                picked.append((found[eid], float(rank)))
                highlights |= {t for t in _WORD.findall(value.lower()) if any(t.startswith(w) for w in words)}
                if len(picked) == limit:
                    full, more = True, i + 1 < len(rows)
                    break
        if full:
            break
        if len(rows) < batch:
            more = False
            break
        more = True
        batch = min(batch * 2, 1000)

    events = apply_redactions([e for e, _ in picked])
    serialize.bundle_aggregations(events, user_id)
    now = _now_ms()

    def ser(e: Event) -> dict[str, Any]:
        return serialize.client_event(e, now_ms=now, requester_device_id=requester.device_id,
                                      requester_user_id=user_id)

    results = []
    for e, (_, rank) in zip(events, picked):
        item: dict[str, Any] = {"rank": rank, "result": ser(e)}
        if c.context is not None:
            item["context"] = _context(requester, e, c.context, ser, ignored)
        results.append(item)

    out: dict[str, Any] = {"count": count, "results": results, "highlights": sorted(highlights | set(words))}
    token = _encode(c.order, position, group) if more and position is not None else None
    if token is not None:
        out["next_batch"] = token
    if c.group_by:
        out["groups"] = _groups(c, [e for e, _ in picked], more, position, group)
    if c.include_state:
        out["state"] = _state(user_id, {e.room_id for e, _ in picked}, ser)
    return out


def _groups(c: Criteria, events: list[Event], more: bool, position: int | None,
            scoped: tuple[str, str] | None) -> dict[str, Any]:
    groups: dict[str, Any] = {}
    for key in c.group_by:
        entries: dict[str, Any] = {}
        for e in events:
            value = e.room_id if key == "room_id" else e.sender
            entry = entries.setdefault(value, {"order": len(entries) + 1, "results": []})
            entry["results"].append(e.event_id)
        if more and position is not None:
            for value, entry in entries.items():
                if scoped is None or scoped == (key, value):
                    entry["next_batch"] = _encode(c.order, position, (key, value))
        groups[key] = entries
    return groups


def _context(requester, event: Event, opts: dict[str, Any], ser, ignored: frozenset[str]) -> dict[str, Any]:
    user_id = requester.user_id
    so = event.internal.stream_ordering or 0
    before, start, _ = paginate(user_id, event.room_id, "b", RoomToken.before(event.depth, so), opts["before"],
                                ignored=ignored)
    after, end, _ = paginate(user_id, event.room_id, "f", RoomToken.after(event.depth, so), opts["after"],
                             ignored=ignored)
    served = apply_redactions([*before, *after])
    out: dict[str, Any] = {"start": start.to_string(), "end": end.to_string(),
                           "events_before": [ser(e) for e in served[:len(before)]],
                           "events_after": [ser(e) for e in served[len(before):]]}
    if opts["profile"]:
        senders = {e.sender for e in (event, *before, *after)}
        # The profiles as they were at the result (its state), per the spec's "historic".
        state = state_store.state_before_event(event.event_id) or {}
        ids = {s: state[("m.room.member", s)] for s in senders if ("m.room.member", s) in state}
        members = room_stores.get_events(ids.values())
        profiles: dict[str, Any] = {}
        for s, eid in ids.items():
            m = members.get(eid)
            if m is None:
                continue
            profiles[s] = {k: m.content[k] for k in ("displayname", "avatar_url") if isinstance(m.content.get(k), str)}
        out["profile_info"] = profiles
    return out


def _state(user_id: str, room_ids: set[str], ser) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for room_id in sorted(room_ids):
        membership = room_stores.membership_of(room_id, user_id)
        if membership is None:
            continue
        ids = (state_store.current_state(room_id) if membership[0] == "join"
               else state_store.state_after_event(membership[1]) or {})
        events = room_stores.get_events(ids.values())
        out[room_id] = [ser(events[eid]) for eid in ids.values() if eid in events]
    return out
