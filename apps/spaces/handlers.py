"""The rules of the spaces endpoints (client-server API, "Spaces"; "Room summaries"; server-server
API, "Spaces"):

    GET /_matrix/client/v1/rooms/{roomId}/hierarchy           getSpaceHierarchy   `hierarchy`
    GET /_matrix/client/v1/room_summary/{roomIdOrAlias}       getRoomSummary      `room_summary`
    GET /_matrix/federation/v1/hierarchy/{roomId}             getSpaceHierarchy   `federation_hierarchy`

A room is *accessible* to a user (space_hierarchy.yaml, `rooms`) when they are joined or invited, or
its join rule is `public`, `knock` or `knock_restricted`, or `restricted`/`knock_restricted` and they
are joined to one of the rooms the rule allows, or its history is `world_readable`.

/hierarchy walks the `m.space.child` state events (those with a non-empty `via`) of the space, and
of the space-rooms below it (another room's children are neither shown nor followed), depth-first:
each room is followed by its own children, in the spec's order ("Ordering of children within a
space": valid `order` strings first, then the child event's `origin_server_ts`, then the room ID),
before its next sibling. A room is visited once (loops and diamonds are broken); an inaccessible room
is left out with its subtree. `max_depth` bounds the depth (the space is 0), `suggested_only` keeps
children marked `suggested`. The pagination token is the number of rooms already returned plus the
two parameters, which must not change between pages.

Rooms this server is in (a local user is joined) are described from their current state here. Any
other child is asked of the servers its `m.space.child` names (`remote`: `GET
/_matrix/federation/v1/hierarchy`, answers cached briefly in the shared cache), unless the answer
about its parent already described it and its own children are not needed; the user sees it when
`accessible` holds for the summary the other server gave (or the user is invited to it). Children
the other server lists as inaccessible to this server are not followed; a room no server answers for
is left out with its subtree, as is the space itself when this server is not in it (403).

The federation /hierarchy describes a room of this server and its children, not recursively and
without pagination, as the requesting server may see them: a room is visible to a server when its
ACL does not deny the server and its join rule is open, or the server has a user joined or invited
there, or its history is world-readable, or the join rule is restricted and the server has a user
joined to one of the allowed rooms. Children this server is not in are left out; children it is in
that the server may not see are listed in `inaccessible_children`.

/room_summary: the summary of an accessible local room, with the user's `membership`; unauthenticated
callers see rooms with a `public`, `knock` or `knock_restricted` join rule or `world_readable` history.
A room that is missing, remote or inaccessible is 404 M_NOT_FOUND alike.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from apps.core.errors import Codes, MatrixError
from apps.federation.acl import server_allowed

from . import remote, stores
from .stores import RoomInfo

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
DEFAULT_MAX_DEPTH = 10
MAX_MAX_DEPTH = 50
# Rooms looked at per request beyond those of earlier pages, returned or not.
MAX_VISITS = 500
# Rooms of other servers asked about per page (answers already cached are free): past it the page ends.
MAX_REMOTE_FETCHES = 10
# Children of a space described per federation /hierarchy answer (Synapse's MAX_ROOMS_PER_SPACE).
MAX_FEDERATION_CHILDREN = 50
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


def child_state(ev) -> dict[str, Any]:
    """An m.space.child event as hierarchies show it: stripped state plus `origin_server_ts`."""
    return {"type": ev.type, "state_key": ev.state_key, "content": ev.content, "sender": ev.sender,
            "origin_server_ts": ev.origin_server_ts}


def ordered_children(children: list[dict[str, Any]], *, suggested_only: bool) -> list[dict[str, Any]]:
    """The valid m.space.child states of `children` (see `child_state`) in the spec's order."""
    kept = []
    for ev in children:
        via = ev["content"].get("via")
        if not isinstance(via, list) or not via or not all(isinstance(v, str) for v in via):
            continue  # a child without `via` is no child (removed)
        if suggested_only and ev["content"].get("suggested") is not True:
            continue
        kept.append(ev)

    def key(ev):
        order = ev["content"].get("order")
        return (0, order, ev["origin_server_ts"], ev["state_key"]) if _valid_order(order) \
            else (1, "", ev["origin_server_ts"], ev["state_key"])
    return sorted(kept, key=key)


def is_space(info: RoomInfo) -> bool:
    return _str(info.content("m.room.create"), "type") == "m.space"


def local_children(info: RoomInfo, *, suggested_only: bool) -> list[dict[str, Any]]:
    # Spec: `children_state` "If the room is not a space-room, this should be empty."
    if not is_space(info):
        return []
    return ordered_children([child_state(ev) for ev in info.children()], suggested_only=suggested_only)


def local_room_infos(room_ids: list[str], user_id: str | None = None) -> dict[str, RoomInfo]:
    """The summary state of the rooms of `room_ids` this server is in (a user of it is joined): the
    others' state here, if any, is not current, so they are asked of other servers."""
    present = stores.rooms_with_members_of(settings.HS.server_name, room_ids)
    return stores.room_infos([r for r in room_ids if r in present], user_id) if present else {}


def remote_accessible(entry: dict[str, Any], user_id: str, membership: str | None) -> bool:
    """`accessible` for a room known from another server's summary of it."""
    if membership in ("join", "invite"):
        return True
    # public_rooms_chunk.yaml: "When not present, the room is assumed to be `public`."
    if entry.get("join_rule", "public") in _OPEN_RULES or entry.get("world_readable") is True:
        return True
    allowed = entry.get("allowed_room_ids") or []
    return entry.get("join_rule") in ("restricted", "knock_restricted") and bool(allowed) \
        and stores.joined_any(user_id, allowed)


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


@dataclass
class _Pending:
    """A room of the walk still to visit."""
    room_id: str
    depth: int
    via: tuple = ()
    # Its summary in its parent's answer, when the parent was asked of another server.
    remote: dict[str, Any] | None = None


class _OutOfBudget(Exception):
    pass


def _remote_room(node: _Pending, max_depth: int, suggested_only: bool,
                 may_fetch: bool) -> tuple[dict[str, Any] | None, dict[str, dict], frozenset[str], bool]:
    """(summary with `children_state`, children summaries, inaccessible children, whether another
    server was asked) of a room this server is not in; the summary is None when no server answered.
    _OutOfBudget when asking is needed and not allowed."""
    # Its parent's answer is enough when the room's own children are not needed (as Synapse does).
    if node.remote is not None and (node.remote.get("room_type") != "m.space" or node.depth >= max_depth):
        return node.remote, {}, frozenset(), False
    answer = remote.cached(node.room_id, node.via, suggested_only)
    asked = answer is remote.NOT_CACHED
    if asked:
        if not may_fetch:
            raise _OutOfBudget
        answer = remote.fetch(node.room_id, node.via, suggested_only)
    if answer is None:
        return None, {}, frozenset(), asked
    return answer.room, answer.children, answer.inaccessible, asked


def hierarchy(requester, room_id: str, *, suggested_only: bool = False, max_depth: int | None = None,
              limit: int | None = None, from_token: str | None = None) -> dict[str, Any]:
    user_id = requester.user_id
    max_depth = DEFAULT_MAX_DEPTH if max_depth is None else min(max_depth, MAX_MAX_DEPTH)
    limit = DEFAULT_LIMIT if limit is None else min(limit, MAX_LIMIT)
    skip = _decode(from_token, suggested_only, max_depth) if from_token is not None else 0

    root = local_room_infos([room_id], user_id).get(room_id)
    if root is None or not accessible(root, user_id, root.membership):
        raise MatrixError(Codes.FORBIDDEN, "You may not view this space.", 403)

    rooms: list[dict[str, Any]] = []
    seen = {room_id}
    known: dict[str, RoomInfo] = {room_id: root}
    memberships: dict[str, str] = {}  # the user's memberships of rooms this server is not in
    stack = [_Pending(room_id, 0)]
    returned = visits = fetches = 0
    more = False
    while stack:
        node = stack.pop()
        visits += 1
        if visits > skip + MAX_VISITS:
            more = bool(rooms)  # a token that would make no progress is no token
            break
        info = known.pop(node.room_id, None)
        remote_children: dict[str, dict] = {}
        hidden: frozenset[str] = frozenset()
        if info is not None:
            if info is not root and not accessible(info, user_id, info.membership):
                continue
            entry = {**summary(info), "children_state": local_children(info, suggested_only=suggested_only)}
        else:
            # A room this server is not in. Asking other servers is bounded per page: past the budget
            # the page ends (what was asked stays cached, so the next page gets further).
            try:
                entry, remote_children, hidden, asked = _remote_room(
                    node, max_depth, suggested_only, may_fetch=fetches < MAX_REMOTE_FETCHES or not rooms)
            except _OutOfBudget:
                more = True
                break
            fetches += asked
            if entry is None or not remote_accessible(entry, user_id, memberships.get(node.room_id)):
                continue
            children = entry.get("children_state", []) if entry.get("room_type") == "m.space" else []
            entry = {**entry, "children_state": ordered_children(children, suggested_only=suggested_only)}
        if returned >= skip:
            if len(rooms) == limit:
                more = True
                break
            rooms.append(entry)
        returned += 1
        if node.depth < max_depth:
            new = [c for c in entry["children_state"] if c["state_key"] not in seen]
            ids = [c["state_key"] for c in new]
            infos = local_room_infos(ids, user_id) if ids else {}  # one batch per space
            # The other server's word that we cannot see a child does not hide one we are in.
            new = [c for c in new if c["state_key"] in infos or c["state_key"] not in hidden]
            seen.update(c["state_key"] for c in new)
            known.update(infos)
            elsewhere = [c["state_key"] for c in new if c["state_key"] not in infos]
            memberships.update(stores.memberships_of(user_id, elsewhere) if elsewhere else {})
            stack.extend(_Pending(c["state_key"], node.depth + 1, tuple(c["content"]["via"]),
                                  remote_children.get(c["state_key"])) for c in reversed(new))
    result: dict[str, Any] = {"rooms": rooms}
    if more:
        result["next_batch"] = _encode(returned, suggested_only, max_depth)
    return result


# --- the federation endpoint ---------------------------------------------------------------------------

def accessible_to_server(info: RoomInfo, origin: str, present: bool) -> bool:
    """Whether server `origin` could peek or join a room of this server (`present`: a user of it is
    joined or invited there). A server the room's ACL denies sees nothing of it."""
    acl = info.state.get(("m.room.server_acl", ""))
    if acl is not None and not server_allowed(acl.content, origin):
        return False
    rule = _str(info.content("m.room.join_rules"), "join_rule")
    if rule in _OPEN_RULES or present:
        return True
    if _str(info.content("m.room.history_visibility"), "history_visibility") == "world_readable":
        return True
    # A server with a user in a room the join rule allows may have a user who can join.
    return rule in ("restricted", "knock_restricted") and stores.server_joined_any(origin, _allowed_rooms(info))


def federation_hierarchy(origin: str, room_id: str, *, suggested_only: bool = False) -> dict[str, Any]:
    """GET /_matrix/federation/v1/hierarchy/{roomId}: the room and its children as `origin` may see
    them; no pagination and no recursion (the requesting server walks further itself)."""
    root = local_room_infos([room_id]).get(room_id)
    present = stores.rooms_with_members_of(origin, [room_id], ("join", "invite")) if root is not None else set()
    if root is None or not accessible_to_server(root, origin, room_id in present):
        raise MatrixError(Codes.NOT_FOUND, "Room does not exist.", 404)
    links = local_children(root, suggested_only=suggested_only)
    ids = list(dict.fromkeys(c["state_key"] for c in links))[:MAX_FEDERATION_CHILDREN]
    infos = local_room_infos(ids) if ids else {}
    present = stores.rooms_with_members_of(origin, list(infos), ("join", "invite")) if infos else set()
    children, inaccessible = [], []
    for child_id in ids:
        info = infos.get(child_id)
        if info is None:
            continue  # spec: rooms the responding server cannot provide details on are left out
        if accessible_to_server(info, origin, child_id in present):
            children.append({**summary(info), "children_state": local_children(info, suggested_only=suggested_only)})
        else:
            inaccessible.append(child_id)
    return {"room": {**summary(root), "children_state": links}, "children": children,
            "inaccessible_children": inaccessible}


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
