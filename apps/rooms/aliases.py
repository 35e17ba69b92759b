"""Room aliases: the grammar, the local alias directory and `m.room.canonical_alias` validation.

    PUT    /directory/room/{roomAlias}   setRoomAlias       joined members (or server admins) of the room
    GET    /directory/room/{roomAlias}   getRoomIdByAlias   anyone; {room_id, servers}
    DELETE /directory/room/{roomAlias}   deleteRoomAlias    the alias' creator, a room moderator, a server admin
    GET    /rooms/{roomId}/aliases       getLocalAliases    members, or anyone when world_readable

A room moderator is a joined member whose power level allows `m.room.canonical_alias` (as Synapse's
`check_can_change_room_list`); the same check guards the room's directory visibility (`directory`).

Only aliases of this server are stored (`models.RoomAlias`); an alias of another server would be
resolved over federation (`query/directory`), which is not here yet: such aliases are "not found".

Spec: appendices "Room Aliases" (`#localpart:domain`, the localpart any codepoints but `:` and NUL,
at most 255 bytes in all); client-server API `m.room.canonical_alias` and PUT /state (400 M_BAD_ALIAS
when an alias does not point to the room, M_INVALID_PARAM when it is not an alias).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from apps.core.errors import Codes, MatrixError

from . import directory_store, state_store, stores
from .power_levels import get_user_power_level, required_level

ROOM_IN_USE = "M_ROOM_IN_USE"
BAD_ALIAS = "M_BAD_ALIAS"
MAX_ALIAS_LENGTH = 255
CANONICAL_ALIAS_KEY = ("m.room.canonical_alias", "")

# Server name grammar (appendices, "Server Name"): an IPv6 literal, or a hostname / IPv4 address; an
# optional port.
_SERVER_NAME_RE = re.compile(r"(?:\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9.\-]{1,255})(?::[0-9]{1,5})?")


@dataclass(frozen=True)
class RoomAlias:
    localpart: str
    domain: str

    def __str__(self) -> str:
        return f"#{self.localpart}:{self.domain}"

    @property
    def is_local(self) -> bool:
        return self.domain == settings.HS.server_name


def is_valid_server_name(name: str) -> bool:
    return isinstance(name, str) and _SERVER_NAME_RE.fullmatch(name) is not None


def _valid_localpart(localpart: str) -> bool:
    if not localpart or ":" in localpart or "\x00" in localpart:
        return False
    return not any(0xD800 <= ord(c) <= 0xDFFF for c in localpart)


def parse_alias(raw: Any) -> RoomAlias:
    """`raw` as a room alias, or 400 M_INVALID_PARAM."""
    if not isinstance(raw, str) or not raw.startswith("#") or ":" not in raw:
        raise MatrixError(Codes.INVALID_PARAM, f"Invalid room alias: {raw!r}", 400)
    localpart, _, domain = raw[1:].partition(":")
    try:
        too_long = len(raw.encode("utf-8")) > MAX_ALIAS_LENGTH
    except UnicodeEncodeError:  # lone surrogates
        too_long = True
    if too_long or not _valid_localpart(localpart) or not is_valid_server_name(domain):
        raise MatrixError(Codes.INVALID_PARAM, f"Invalid room alias: {raw!r}", 400)
    return RoomAlias(localpart, domain)


def local_alias_for_localpart(localpart: Any) -> str:
    """The alias `#localpart:our.server` for createRoom's `room_alias_name` (400 when invalid)."""
    if not isinstance(localpart, str) or not _valid_localpart(localpart) or any(c.isspace() for c in localpart):
        raise MatrixError(Codes.INVALID_PARAM, "room_alias_name must be a non-empty alias localpart without ':' or "
                                               "whitespace", 400)
    return str(parse_alias(f"#{localpart}:{settings.HS.server_name}"))


# --- permissions ---------------------------------------------------------------------------------------

def _is_server_admin(requester) -> bool:
    return bool(getattr(getattr(requester, "user", None), "admin", False))


def _auth_state(room_id: str, user_id: str) -> dict:
    keys = [("m.room.create", ""), ("m.room.power_levels", ""), ("m.room.member", user_id)]
    ids = state_store.current_state(room_id, keys)
    events = stores.get_events(ids.values())
    return {k: events[eid] for k, eid in ids.items() if eid in events}


def is_room_moderator(requester, room_id: str, event_type: str = "m.room.canonical_alias") -> bool:
    """Joined, with the power level to send the state event `event_type` (v12 creators always)."""
    room = stores.get_room(room_id)
    if room is None:
        return False
    from .room_versions import get_room_version

    rv = get_room_version(room.room_version)
    state = _auth_state(room_id, requester.user_id)
    member = state.get(("m.room.member", requester.user_id))
    if member is None or member.membership != "join":
        return False
    return get_user_power_level(requester.user_id, state, rv) >= required_level(event_type, True, state, rv)


def can_change_room_list(requester, room_id: str) -> bool:
    return _is_server_admin(requester) or is_room_moderator(requester, room_id)


# --- the alias directory -------------------------------------------------------------------------------

def set_alias(requester, alias_str: str, room_id: str) -> None:
    """PUT /directory/room/{roomAlias}."""
    alias = parse_alias(alias_str)
    if not alias.is_local:
        raise MatrixError(Codes.INVALID_PARAM, "Room aliases can only be created on this server "
                                               f"({settings.HS.server_name})", 400)
    if not isinstance(room_id, str) or not room_id.startswith("!"):
        raise MatrixError(Codes.INVALID_PARAM, f"Invalid room ID: {room_id!r}", 400)
    if stores.get_room(room_id) is None:
        raise MatrixError(Codes.NOT_FOUND, "Unknown room", 404)
    check_alias_namespace(requester, str(alias))
    if not _is_server_admin(requester):
        membership = stores.membership_of(room_id, requester.user_id)
        if membership is None or membership[0] != "join":
            raise MatrixError(Codes.FORBIDDEN, "You must be in the room to create an alias for it", 403)
    if not directory_store.create_alias(str(alias), room_id, requester.user_id):
        raise MatrixError(Codes.UNKNOWN, f"Room alias {alias} already exists", 409)


def check_alias_namespace(requester, alias: str) -> None:
    """Application-service API, "Server admin style permissions": an alias in a service's exclusive
    namespace is only the service's to create, and a service creates aliases only in its namespaces."""
    from apps.appservice import registry

    service = getattr(requester, "app_service", None)
    if service is not None and not registry.is_alias_in_namespace(service, alias):
        raise MatrixError(Codes.EXCLUSIVE, "This alias is not in the application service's namespace", 400)
    registry.check_alias_not_exclusive(alias, allowed=service)


def resolve_alias(alias_str: str) -> dict[str, Any]:
    """GET /directory/room/{roomAlias}: {room_id, servers}, this server first."""
    alias = parse_alias(alias_str)
    if not alias.is_local:
        from apps.federation.queries import directory

        return directory(str(alias))
    room_id = directory_store.alias_room_id(str(alias)) if alias.is_local else None
    if room_id is None and alias.is_local:
        # Application-service API, "Querying": a service whose namespace covers the alias may create it
        # now; look again if it says it did.
        from apps.appservice.handlers import query_alias

        if query_alias(str(alias)):
            room_id = directory_store.alias_room_id(str(alias))
    if room_id is None:
        raise MatrixError(Codes.NOT_FOUND, f"Room alias {alias} not found", 404)
    me = settings.HS.server_name
    servers = [me] + [s for s in directory_store.joined_servers(room_id) if s != me]
    return {"room_id": room_id, "servers": servers}


def room_id_for(room_id_or_alias: str) -> str:
    """A room ID, or the room a local alias points to (POST /join/{roomIdOrAlias}); 404 otherwise."""
    if room_id_or_alias.startswith("!"):
        return room_id_or_alias
    return resolve_alias(room_id_or_alias)["room_id"]


def delete_alias(requester, alias_str: str) -> None:
    """DELETE /directory/room/{roomAlias}. The alias also leaves the room's canonical alias event
    when the requester may change it (the spec recommends deleting the alias regardless)."""
    alias = parse_alias(alias_str)
    row = directory_store.alias_row(str(alias)) if alias.is_local else None
    if row is None:
        raise MatrixError(Codes.NOT_FOUND, f"Room alias {alias} not found", 404)
    room_id, creator = row
    if creator != requester.user_id and not can_change_room_list(requester, room_id):
        raise MatrixError(Codes.FORBIDDEN, "You may not delete this alias: only its creator, a room moderator or a "
                                           "server admin may", 403)
    directory_store.delete_alias(str(alias))
    _drop_from_canonical_alias(requester, room_id, str(alias))


def _drop_from_canonical_alias(requester, room_id: str, alias: str) -> None:
    from django.db import transaction

    from .auth_rules import AuthError
    from .creation import create_local_event

    event_id = state_store.current_state(room_id, [CANONICAL_ALIAS_KEY]).get(CANONICAL_ALIAS_KEY)
    event = stores.get_event(event_id) if event_id else None
    if event is None:
        return
    content = dict(event.content)
    changed = False
    if content.get("alias") == alias:
        content.pop("alias")
        changed = True
    alt = content.get("alt_aliases")
    if isinstance(alt, list) and alias in alt:
        content["alt_aliases"] = [a for a in alt if a != alias]
        changed = True
    if not changed:
        return
    try:
        with transaction.atomic():
            create_local_event(requester, room_id, {"type": "m.room.canonical_alias", "state_key": "",
                                                    "content": content})
    except AuthError:
        pass  # the alias is deleted all the same (spec, deleteRoomAlias)


def local_aliases(requester, room_id: str) -> list[str]:
    """GET /rooms/{roomId}/aliases: for members, or anyone when the room is world_readable."""
    if not _is_server_admin(requester):
        membership = stores.membership_of(room_id, requester.user_id)
        if membership is None or membership[0] != "join":
            key = ("m.room.history_visibility", "")
            hv_id = state_store.current_state(room_id, [key]).get(key)
            hv = stores.get_event(hv_id) if hv_id else None
            if hv is None or hv.content.get("history_visibility") != "world_readable":
                raise MatrixError(Codes.FORBIDDEN, "You are not a member of the room", 403)
    return directory_store.aliases_of_room(room_id)


# --- m.room.canonical_alias ----------------------------------------------------------------------------

def check_canonical_alias(room_id: str, content: Any) -> None:
    """Validate a local `m.room.canonical_alias` event before it is built: each alias it *adds* (the
    `alias`, if changed, and the `alt_aliases` not already listed) must be an alias that points to
    this room (400 M_BAD_ALIAS) and be grammatical (400 M_INVALID_PARAM). As Synapse does, aliases
    already in the current event are not checked again, so a deleted alias does not block edits."""
    if not isinstance(content, dict):
        return
    previous: dict = {}
    event_id = state_store.current_state(room_id, [CANONICAL_ALIAS_KEY]).get(CANONICAL_ALIAS_KEY)
    if event_id is not None:
        prev = stores.get_event(event_id)
        previous = prev.content if prev is not None else {}

    new_aliases: list[Any] = []
    alias = content.get("alias")
    if alias not in (None, "") and alias != previous.get("alias"):
        new_aliases.append(alias)
    alt = content.get("alt_aliases")
    if alt is not None:
        if not isinstance(alt, list):
            raise MatrixError(Codes.INVALID_PARAM, "alt_aliases must be a list of room aliases", 400)
        old_alt = previous.get("alt_aliases")
        old_alt = old_alt if isinstance(old_alt, list) else []
        new_aliases.extend(a for a in alt if a not in old_alt)
    for raw in new_aliases:
        parsed = parse_alias(raw)
        target = directory_store.alias_room_id(str(parsed)) if parsed.is_local else None
        if target != room_id:
            raise MatrixError(BAD_ALIAS, f"The alias {raw!r} does not point to this room", 400)
