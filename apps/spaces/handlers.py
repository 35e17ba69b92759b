"""The rules of the spaces endpoints (client-server API, "Spaces"; "Room summaries"):

    GET /_matrix/client/v1/rooms/{roomId}/hierarchy           getSpaceHierarchy   `hierarchy`
    GET /_matrix/client/v1/room_summary/{roomIdOrAlias}       getRoomSummary      `room_summary`

A room is *accessible* to a user (space_hierarchy.yaml, `rooms`) when they are joined or invited, or
its join rule is `public`, `knock` or `knock_restricted`, or `restricted`/`knock_restricted` and they
are joined to one of the rooms the rule allows, or its history is `world_readable`.

/hierarchy walks the `m.space.child` state events (those with a non-empty `via`) of the space, and
of the space-rooms below it (another room's children are neither shown nor followed), depth-first: each room is followed by its own children, in the spec's order ("Ordering of children
within a space": valid `order` strings first, then the child event's `origin_server_ts`, then the room
ID), before its next sibling. A room is visited once (loops and diamonds are broken); an inaccessible
room is left out with its subtree; rooms this server does not have are skipped (asking the `via`
servers over federation, `GET /_matrix/federation/v1/hierarchy`, is not done yet). `max_depth` bounds
the depth (the space is 0), `suggested_only` keeps children marked `suggested`. The pagination token
is the number of rooms already returned plus the two parameters, which must not change between pages.

/room_summary: the summary of an accessible local room, with the user's `membership`; unauthenticated
callers see rooms with a `public`, `knock` or `knock_restricted` join rule or `world_readable` history.
A room that is missing, remote or inaccessible is 404 M_NOT_FOUND alike.
"""
from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from apps.core.errors import Codes, MatrixError

from . import stores
from .stores import RoomInfo

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
DEFAULT_MAX_DEPTH = 10
MAX_MAX_DEPTH = 50
# Rooms looked at per request beyond those of earlier pages, returned or not.
MAX_VISITS = 500
_TOKEN_PREFIX = "h1."
_OPEN_RULES = ("public", "knock", "knock_restricted")


# --- what a user may see ---------------------------------------------------------------------------

def _str(content: dict, key: str) -> str | None:
    v = content.get(key)
    return v if isinstance(v, str) else None


def _allowed_rooms(info: RoomInfo) -> list[str]:
    allow = info.content("m.room.join_rules").get("allow")
    return [a["room_id"] for a in allow if isinstance(a, dict) and a.get("type") == "m.room_membership"
            and isinstance(a.get("room_id"), str)] if isinstance(allow, list) else []


def accessible(info: RoomInfo, user_id: str | None, membership: str | None) -> bool:
    if membership in ("join", "invite"):
        return True
    rule = _str(info.content("m.room.join_rules"), "join_rule")
    if rule in _OPEN_RULES:
        return True
    if _str(info.content("m.room.history_visibility"), "history_visibility") == "world_readable":
        return True
    if rule in ("restricted", "knock_restricted") and user_id is not None:
        allowed = _allowed_rooms(info)
        return bool(allowed) and stores.joined_any(user_id, allowed)
    return False


def summary(info: RoomInfo) -> dict[str, Any]:
    """The RoomSummary (room_summary.yaml, over public_rooms_chunk.yaml) of a room."""
    rule = _str(info.content("m.room.join_rules"), "join_rule") or "invite"
    entry: dict[str, Any] = {
        "room_id": info.room_id,
        "num_joined_members": info.joined_members,
        "world_readable": _str(info.content("m.room.history_visibility"), "history_visibility") == "world_readable",
        "guest_can_join": _str(info.content("m.room.guest_access"), "guest_access") == "can_join",
        "join_rule": rule,
        "room_version": info.room_version,
    }
    optional = {
        "name": _str(info.content("m.room.name"), "name"),
        "topic": _str(info.content("m.room.topic"), "topic"),
        "avatar_url": _str(info.content("m.room.avatar"), "url"),
        "canonical_alias": _str(info.content("m.room.canonical_alias"), "alias"),
        "room_type": _str(info.content("m.room.create"), "type"),
        "encryption": _str(info.content("m.room.encryption"), "algorithm"),
    }
    entry.update({k: v for k, v in optional.items() if v})
    if rule in ("restricted", "knock_restricted"):
        entry["allowed_room_ids"] = _allowed_rooms(info)
    return entry


# --- the space tree ----------------------------------------------------------------------------------

def _valid_order(value: Any) -> bool:
    # m.space.child `order`: at most 50 characters in \x20-\x7E.
    return isinstance(value, str) and 0 < len(value) <= 50 and all(" " <= ch <= "~" for ch in value)


def ordered_children(info: RoomInfo, *, suggested_only: bool) -> list:
    """The space's valid m.space.child events in the spec's order."""
    children = []
    for ev in info.children():
        via = ev.content.get("via")
        if not isinstance(via, list) or not via or not all(isinstance(v, str) for v in via):
            continue  # a child without `via` is no child (removed)
        if suggested_only and ev.content.get("suggested") is not True:
            continue
        children.append(ev)

    def key(ev):
        order = ev.content.get("order")
        return (0, order, ev.origin_server_ts, ev.state_key) if _valid_order(order) \
            else (1, "", ev.origin_server_ts, ev.state_key)
    return sorted(children, key=key)


def _child_state(ev) -> dict[str, Any]:
    return {"type": ev.type, "state_key": ev.state_key, "content": ev.content, "sender": ev.sender,
            "origin_server_ts": ev.origin_server_ts}


def _encode(skip: int, suggested_only: bool, max_depth: int) -> str:
    raw = json.dumps({"n": skip, "s": suggested_only, "d": max_depth}, separators=(",", ":")).encode()
    return _TOKEN_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(token: str, suggested_only: bool, max_depth: int) -> int:
    invalid = MatrixError(Codes.INVALID_PARAM, "Unknown pagination token", 400)
    if not token.startswith(_TOKEN_PREFIX) or len(token) > 512:
        raise invalid
    body = token[len(_TOKEN_PREFIX):]
    try:
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid from None
    if not isinstance(data, dict) or not isinstance(data.get("n"), int) or data["n"] < 0:
        raise invalid
    if data.get("s") != suggested_only or data.get("d") != max_depth:
        raise MatrixError(Codes.INVALID_PARAM, "suggested_only and max_depth cannot change during pagination", 400)
    return data["n"]


def hierarchy(requester, room_id: str, *, suggested_only: bool = False, max_depth: int | None = None,
              limit: int | None = None, from_token: str | None = None) -> dict[str, Any]:
    user_id = requester.user_id
    max_depth = DEFAULT_MAX_DEPTH if max_depth is None else min(max_depth, MAX_MAX_DEPTH)
    limit = DEFAULT_LIMIT if limit is None else min(limit, MAX_LIMIT)
    skip = _decode(from_token, suggested_only, max_depth) if from_token is not None else 0

    root = stores.room_info(room_id, user_id)
    if root is None or not accessible(root, user_id, root.membership):
        raise MatrixError(Codes.FORBIDDEN, "You may not view this space.", 403)

    rooms: list[dict[str, Any]] = []
    seen = {room_id}
    known: dict[str, RoomInfo] = {room_id: root}
    stack: list[tuple[str, int]] = [(room_id, 0)]
    returned = visits = 0
    more = False
    while stack:
        current, depth = stack.pop()
        info = known.pop(current, None)
        visits += 1
        if info is None:
            continue  # a room this server does not have: its `via` servers are not asked yet
        if info is not root and not accessible(info, user_id, info.membership):
            continue
        # Spec: `children_state` "If the room is not a space-room, this should be empty."
        children = ordered_children(info, suggested_only=suggested_only) \
            if _str(info.content("m.room.create"), "type") == "m.space" else []
        if visits > skip + MAX_VISITS:
            more = bool(rooms)  # a token that would make no progress is no token
            break
        if returned >= skip:
            if len(rooms) == limit:
                more = True
                break
            rooms.append({**summary(info), "children_state": [_child_state(ev) for ev in children]})
        returned += 1
        if depth < max_depth:
            new = [ev.state_key for ev in children if ev.state_key not in seen]
            seen.update(new)
            known.update(stores.room_infos(new, user_id) if new else {})  # one batch per space
            stack.extend((child, depth + 1) for child in reversed(new))
    result: dict[str, Any] = {"rooms": rooms}
    if more:
        result["next_batch"] = _encode(returned, suggested_only, max_depth)
    return result


# --- room summary ------------------------------------------------------------------------------------

def room_summary(requester, room_id_or_alias: str) -> dict[str, Any]:
    from apps.rooms.aliases import room_id_for

    not_found = MatrixError(Codes.NOT_FOUND, "Room not found.", 404)
    try:
        room_id = room_id_for(room_id_or_alias)
    except MatrixError:
        raise not_found from None
    user_id = requester.user_id if requester is not None else None
    info = stores.room_info(room_id, user_id)
    if info is None or not accessible(info, user_id, info.membership):
        raise not_found
    out = summary(info)
    if requester is not None:
        out["membership"] = info.membership or "leave"
    return out
