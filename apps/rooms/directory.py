"""The published room directory (client-server API, "Room discovery").

    GET  /directory/list/room/{roomId}   getRoomVisibilityOnDirectory   anyone
    PUT  /directory/list/room/{roomId}   setRoomVisibilityOnDirectory   room moderators, server admins
    GET  /publicRooms                    getPublicRooms                 anyone (a token, when given, must be valid)
    POST /publicRooms                    queryPublicRooms               users: filter, room_types

A room is published when `Room.is_public` (createRoom with `visibility: public`, or the PUT above).
The listing shows the published rooms that still have a joined member and that one may join or read:
join rule `public`, `knock` or `knock_restricted`, or history visibility `world_readable`.

Order: joined members, most first, then room ID. Pagination is by key, not offset, so a room that
gains members between two requests is neither skipped twice nor shown twice within one direction:
a token is the (members, room_id) key of the page's edge plus a direction, base64url-encoded JSON
behind a version prefix; anything else is 400 M_INVALID_PARAM.

Cost: two queries whatever the number of published rooms (`directory_store`), then filtering,
sorting and slicing in Python over the published rooms.
"""
from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from django.conf import settings

from apps.core.errors import Codes, MatrixError

from . import aliases, directory_store

_TOKEN_PREFIX = "pr1."
_LISTED_JOIN_RULES = ("public", "knock", "knock_restricted")
MAX_LIMIT = 1000


# --- visibility --------------------------------------------------------------------------------------

def get_visibility(room_id: str) -> str:
    published = directory_store.is_published(room_id)
    if published is None:
        raise MatrixError(Codes.NOT_FOUND, "Room not found", 404)
    return "public" if published else "private"


def set_visibility(requester, room_id: str, visibility: str) -> None:
    if visibility not in ("public", "private"):
        raise MatrixError(Codes.INVALID_PARAM, "visibility must be 'public' or 'private'", 400)
    if directory_store.is_published(room_id) is None:
        raise MatrixError(Codes.NOT_FOUND, "Room not found", 404)
    if not aliases.can_change_room_list(requester, room_id):
        raise MatrixError(Codes.FORBIDDEN, "You may not change this room's visibility in the directory: it needs "
                                           "the power to change the room's canonical alias", 403)
    directory_store.set_published(room_id, visibility == "public")


# --- pagination tokens -------------------------------------------------------------------------------

def _encode_token(direction: str, key: tuple[int, str]) -> str:
    raw = json.dumps({"d": direction, "n": key[0], "r": key[1]}, separators=(",", ":")).encode()
    return _TOKEN_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: Any) -> tuple[str, tuple[int, str]]:
    bad = MatrixError(Codes.INVALID_PARAM, "Invalid pagination token", 400)
    if not isinstance(token, str) or not token.startswith(_TOKEN_PREFIX) or len(token) > 1024:
        raise bad
    body = token[len(_TOKEN_PREFIX):]
    try:
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad from None
    if not isinstance(data, dict) or data.get("d") not in ("f", "b") or not isinstance(data.get("r"), str) \
            or not isinstance(data.get("n"), int) or isinstance(data.get("n"), bool):
        raise bad
    # Keys sort as (-members, room_id).
    return data["d"], (-data["n"], data["r"])


# --- the listing -------------------------------------------------------------------------------------

def _str(content: dict | None, key: str) -> str | None:
    value = (content or {}).get(key)
    return value if isinstance(value, str) else None


def _chunk(room_id: str, members: int, state: dict[str, dict]) -> dict[str, Any]:
    join_rule = _str(state.get("m.room.join_rules"), "join_rule")
    entry: dict[str, Any] = {
        "room_id": room_id,
        "num_joined_members": members,
        "world_readable": _str(state.get("m.room.history_visibility"), "history_visibility") == "world_readable",
        "guest_can_join": _str(state.get("m.room.guest_access"), "guest_access") == "can_join",
    }
    optional = {
        "name": _str(state.get("m.room.name"), "name"),
        "topic": _str(state.get("m.room.topic"), "topic"),
        "canonical_alias": _str(state.get("m.room.canonical_alias"), "alias"),
        "avatar_url": _str(state.get("m.room.avatar"), "url"),
        "join_rule": join_rule,
        "room_type": _str(state.get("m.room.create"), "type"),
    }
    entry.update({k: v for k, v in optional.items() if v})
    return entry


def _listed(entry: dict[str, Any]) -> bool:
    return entry.get("join_rule") in _LISTED_JOIN_RULES or entry["world_readable"]


def _matches(entry: dict[str, Any], term: str | None, room_types: list | None) -> bool:
    if room_types is not None and entry.get("room_type") not in room_types:
        return False
    if term:
        needle = term.casefold()
        return any(needle in (entry.get(k) or "").casefold() for k in ("name", "topic", "canonical_alias"))
    return True


def public_rooms(*, limit: int | None = None, since: str | None = None, server: str | None = None,
                 search_term: str | None = None, room_types: list | None = None,
                 include_all_networks: bool = False, third_party_instance_id: str | None = None) -> dict[str, Any]:
    """The body of GET and POST /publicRooms: chunk, next_batch, prev_batch, total_room_count_estimate."""
    if server is not None and server != settings.HS.server_name:
        if not aliases.is_valid_server_name(server):
            raise MatrixError(Codes.INVALID_PARAM, f"Invalid server name: {server!r}", 400)
        raise MatrixError(Codes.NOT_FOUND, "The published room directories of other servers cannot be fetched "
                                           "yet", 404)
    if include_all_networks and third_party_instance_id is not None:
        raise MatrixError(Codes.INVALID_PARAM, "third_party_instance_id cannot be used with include_all_networks",
                          400)
    if limit is not None and (limit < 0):
        raise MatrixError(Codes.INVALID_PARAM, "limit must not be negative", 400)
    if room_types is not None and not all(t is None or isinstance(t, str) for t in room_types):
        raise MatrixError(Codes.BAD_JSON, "room_types must be a list of strings or nulls", 400)
    direction, key = _decode_token(since) if since is not None else ("f", None)

    from apps.appservice.handlers import listed_rooms

    if third_party_instance_id is not None:
        # One application service's list for one network (PUT /directory/list/appservice/...).
        listed = listed_rooms(third_party_instance_id)
        counts = directory_store.published_rooms_with_members(listed) if listed else {}
        states = directory_store.published_rooms_state(listed) if counts else {}
    else:
        counts = directory_store.published_rooms_with_members()
        states = directory_store.published_rooms_state() if counts else {}
        listed = listed_rooms(None) if include_all_networks else []
        extra = [r for r in listed if r not in counts]
        if extra:
            counts.update(directory_store.published_rooms_with_members(extra))
            states.update(directory_store.published_rooms_state(extra))
    entries = [_chunk(room_id, n, states.get(room_id, {})) for room_id, n in counts.items()]
    entries = [e for e in entries if _listed(e) and _matches(e, search_term, room_types)]
    entries.sort(key=lambda e: (-e["num_joined_members"], e["room_id"]))
    keys = [(-e["num_joined_members"], e["room_id"]) for e in entries]
    limit = min(limit, MAX_LIMIT) if limit is not None else MAX_LIMIT

    if key is None:
        start, end = 0, min(limit, len(entries))
    elif direction == "f":
        start = next((i for i, k in enumerate(keys) if k > key), len(entries))
        end = min(start + limit, len(entries))
    else:
        end = next((i for i, k in enumerate(keys) if k >= key), len(entries))
        start = max(0, end - limit)
    page = entries[start:end]
    body: dict[str, Any] = {"chunk": page, "total_room_count_estimate": len(entries)}
    if page:
        first = (page[0]["num_joined_members"], page[0]["room_id"])
        last = (page[-1]["num_joined_members"], page[-1]["room_id"])
        if end < len(entries):
            body["next_batch"] = _encode_token("f", last)
        if start > 0:
            body["prev_batch"] = _encode_token("b", first)
    return body
