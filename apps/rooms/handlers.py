"""The Matrix rules of room creation, sending, state and membership (client-server API, "Rooms").

Handlers take a `Requester` and plain values, never a request. Every event is built and checked by
`creation.create_local_event` (which runs the one pipeline); reads go through `stores` and
`state_store`, and what a user may read is decided here (`_readable_state`, `_check_can_see_event`).
"""
from __future__ import annotations

import copy
import logging
import time
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from apps.core.errors import Codes, MatrixError
from apps.core.ids import UserID, is_local_id

from . import ratelimits, serialize, state_store, stores
from .auth_rules import AuthError
from .creation import create_local_event
from .events import Event, StateKey
from .room_versions import get_room_version

logger = logging.getLogger(__name__)

INVALID_ROOM_STATE = "M_INVALID_ROOM_STATE"

# Spec: createRoom, "The available presets do the following with respect to room state".
PRESETS: dict[str, dict[str, Any]] = {
    "private_chat": {"join_rule": "invite", "history_visibility": "shared", "guest_access": "can_join",
                     "invitees_are_admins": False, "invite_level": 0},
    "trusted_private_chat": {"join_rule": "invite", "history_visibility": "shared", "guest_access": "can_join",
                             "invitees_are_admins": True, "invite_level": 0},
    "public_chat": {"join_rule": "public", "history_visibility": "shared", "guest_access": "forbidden",
                    "invitees_are_admins": False, "invite_level": 50},
}


def _now_ms() -> int:
    return int(time.time() * 1000)


def _is_local(user_id: str) -> bool:
    return is_local_id(user_id)


def _local_profile(user_id: str) -> dict[str, str] | None:
    """displayname / avatar_url of a local user for their member events; None for an unknown user."""
    from apps.accounts.models import User

    localpart = UserID.parse(user_id).localpart
    row = User.objects.filter(localpart=localpart).values("displayname", "avatar_url", "deactivated").first()
    if row is None or row["deactivated"]:
        return None
    return {k: row[k] for k in ("displayname", "avatar_url") if row[k]}


def _room_or_404(room_id: str):
    room = stores.get_room(room_id)
    if room is None:
        raise MatrixError(Codes.NOT_FOUND, "Unknown room", 404)
    return room


# --- createRoom --------------------------------------------------------------------------------------

def _default_power_levels(creator: str, rv, preset: dict, invitees: list[str]) -> dict[str, Any]:
    users: dict[str, int] = {}
    if not rv.privileged_creators:
        # v1-v11: the creator (and, for trusted_private_chat, the invitees) get the power to send state.
        users[creator] = 100
        if preset["invitees_are_admins"]:
            users.update({u: 100 for u in invitees})
    return {
        "users": users,
        "users_default": 0,
        "events": {
            "m.room.name": 50,
            "m.room.power_levels": 100,
            "m.room.history_visibility": 100,
            "m.room.canonical_alias": 50,
            "m.room.avatar": 50,
            # v12: above state_default and the creators' 100, so only creators may upgrade (spec createRoom).
            "m.room.tombstone": 150 if rv.privileged_creators else 100,
            "m.room.server_acl": 100,
            "m.room.encryption": 100,
        },
        "events_default": 0,
        "state_default": 50,
        "ban": 50,
        "kick": 50,
        "redact": 50,
        "invite": preset["invite_level"],
        "historical": 100,
        "notifications": {"room": 50},
    }


def _parse_initial_state(raw: Any) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise MatrixError(Codes.BAD_JSON, "initial_state must be a list", 400)
    out = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("type"), str) \
                or not isinstance(item.get("content"), dict) or not isinstance(item.get("state_key", ""), str):
            raise MatrixError(Codes.BAD_JSON, "Each initial_state entry needs a string type, an object content "
                                              "and a string state_key", 400)
        if item["type"] in ("m.room.create", "m.room.member"):
            raise MatrixError(Codes.BAD_JSON, f"initial_state may not contain {item['type']}", 400)
        out.append({"type": item["type"], "state_key": item.get("state_key", ""), "content": item["content"]})
    return out


def create_room(requester, *, visibility: str = "private", preset_name: str | None = None,
                room_version: str | None = None, creation_content: dict | None = None,
                initial_state: Any = None, name: str | None = None, topic: str | None = None,
                invite: list[str] | None = None, is_direct: bool = False,
                power_level_content_override: dict | None = None, room_alias_name: str | None = None) -> str:
    """POST /createRoom: the spec's event order (create, creator join, power levels, canonical alias,
    preset events, initial_state, name, topic, invites), all in one transaction. Returns the room ID."""
    if visibility not in ("public", "private"):
        raise MatrixError(Codes.INVALID_PARAM, "visibility must be 'public' or 'private'", 400)
    if preset_name is None:
        preset_name = "public_chat" if visibility == "public" else "private_chat"
    if preset_name not in PRESETS:
        raise MatrixError(Codes.INVALID_PARAM, f"Unknown preset {preset_name!r}", 400)
    preset = PRESETS[preset_name]
    rv = get_room_version(room_version if room_version is not None else settings.HS.default_room_version)
    creator = requester.user_id

    invitees: list[str] = []
    for raw in invite or []:
        if not isinstance(raw, str):
            raise MatrixError(Codes.BAD_JSON, "invite must be a list of user IDs", 400)
        uid = str(UserID.parse(raw))
        if uid != creator and uid not in invitees:
            invitees.append(uid)
    invitee_profiles = {u: _invitee_profile(u) for u in invitees}
    state_items = _parse_initial_state(initial_state)
    initial_keys = {(s["type"], s["state_key"]) for s in state_items}

    create_content = {k: v for k, v in (creation_content or {}).items() if k not in ("creator", "room_version")}
    create_content["room_version"] = rv.identifier
    if not rv.implicit_room_creator:
        create_content["creator"] = creator
    if rv.privileged_creators and preset["invitees_are_admins"] and invitees:
        extra = create_content.get("additional_creators", [])
        if not isinstance(extra, list):
            raise MatrixError(Codes.BAD_JSON, "additional_creators must be a list", 400)
        create_content["additional_creators"] = list(dict.fromkeys([*extra, *invitees]))

    pl_content = next((s["content"] for s in state_items if (s["type"], s["state_key"]) == ("m.room.power_levels", "")),
                      None)
    if pl_content is None:
        pl_content = _default_power_levels(creator, rv, preset, invitees)
    pl_content = {**copy.deepcopy(pl_content), **(power_level_content_override or {})}

    events: list[dict[str, Any]] = []
    for etype, content in (("m.room.join_rules", {"join_rule": preset["join_rule"]}),
                           ("m.room.history_visibility", {"history_visibility": preset["history_visibility"]}),
                           ("m.room.guest_access", {"guest_access": preset["guest_access"]})):
        if (etype, "") not in initial_keys:  # initial_state takes precedence over the preset
            events.append({"type": etype, "state_key": "", "content": content})
    for s in state_items:
        if (s["type"], s["state_key"]) == ("m.room.power_levels", ""):
            continue
        if (name is not None and (s["type"], s["state_key"]) == ("m.room.name", "")) or \
                (topic is not None and (s["type"], s["state_key"]) == ("m.room.topic", "")):
            continue  # name and topic override initial_state
        events.append(s)
    if name is not None:
        events.append({"type": "m.room.name", "state_key": "", "content": {"name": name}})
    if topic is not None:
        events.append({"type": "m.room.topic", "state_key": "",
                       "content": {"topic": topic, "m.topic": {"m.text": [{"body": topic, "mimetype": "text/plain"}]}}})

    # room_alias_name (apps/rooms/aliases.py): a taken alias is refused before anything is created.
    room_alias = None
    if room_alias_name is not None:
        from . import aliases, directory_store

        room_alias = aliases.local_alias_for_localpart(room_alias_name)
        if directory_store.alias_room_id(room_alias) is not None:
            raise MatrixError(aliases.ROOM_IN_USE, f"Room alias {room_alias} already taken", 400)
        aliases.check_alias_namespace(requester, room_alias)  # M_EXCLUSIVE (application services)

    with transaction.atomic():
        create_event, _ = create_local_event(requester, None, {"type": "m.room.create", "state_key": "",
                                                               "content": create_content}, room_version=rv)
        room_id = create_event.room_id
        try:
            _send_membership(requester, room_id, creator, "join", _local_profile(creator) or {})
            create_local_event(requester, room_id, {"type": "m.room.power_levels", "state_key": "",
                                                    "content": pl_content})
            if room_alias is not None:
                if not directory_store.create_alias(room_alias, room_id, creator):
                    raise MatrixError(aliases.ROOM_IN_USE, f"Room alias {room_alias} already taken", 400)
                create_local_event(requester, room_id, {"type": "m.room.canonical_alias", "state_key": "",
                                                        "content": {"alias": room_alias}})
            for ev in events:
                create_local_event(requester, room_id, ev)
            for uid in invitees:
                content = dict(invitee_profiles[uid])
                if is_direct:
                    content["is_direct"] = True
                _send_membership(requester, room_id, uid, "invite", content)
        except AuthError as e:
            raise MatrixError(INVALID_ROOM_STATE, f"Invalid initial state: {e.reason}", 400) from e
        if visibility == "public":
            from .models import Room

            Room.objects.filter(room_id=room_id).update(is_public=True)
    return room_id


def _invitee_profile(user_id: str) -> dict[str, str]:
    if not _is_local(user_id):
        # Federation invites come with the federation work.
        raise MatrixError(Codes.FORBIDDEN, "Inviting users of other servers is not supported yet", 403)
    profile = _local_profile(user_id)
    if profile is None:
        raise MatrixError(Codes.NOT_FOUND, f"Unknown user {user_id}", 404)
    return profile


# --- sending -----------------------------------------------------------------------------------------

def send_event(requester, room_id: str, event_type: str, content: dict, txn_id: str) -> str:
    """PUT /rooms/{roomId}/send/{eventType}/{txnId}: idempotent per (user, device, room, txn id)."""
    device_id = requester.device_id
    if device_id is not None:
        existing = stores.event_for_txn(requester.user_id, device_id, room_id, txn_id)
        if existing is not None:
            return existing
    ratelimits.check_message(requester.user_id)  # rc_message; a retried txn id is not counted again
    try:
        event, _ = create_local_event(requester, room_id, {"type": event_type, "content": content}, txn_id=txn_id)
    except IntegrityError:
        # A concurrent request with the same transaction id won the race.
        existing = stores.event_for_txn(requester.user_id, device_id, room_id, txn_id) if device_id else None
        if existing is None:
            raise
        return existing
    return event.event_id


def set_state(requester, room_id: str, event_type: str, state_key: str, content: dict) -> str:
    """PUT /rooms/{roomId}/state/{eventType}/{stateKey}. Sending the current content again returns the
    current event (as Synapse does) rather than a duplicate."""
    _room_or_404(room_id)
    current_id = state_store.current_state(room_id, [(event_type, state_key)]).get((event_type, state_key))
    if current_id is not None:
        current = stores.get_event(current_id)
        if current is not None and current.content == content and current.sender == requester.user_id:
            return current_id
    event, _ = create_local_event(requester, room_id, {"type": event_type, "state_key": state_key, "content": content})
    return event.event_id


# --- membership --------------------------------------------------------------------------------------

def _send_membership(requester, room_id: str, target: str, membership: str, content: dict | None = None) -> Event:
    body = {"membership": membership, **(content or {})}
    event, _ = create_local_event(requester, room_id, {"type": "m.room.member", "state_key": target, "content": body})
    return event


def join_room(requester, room_id: str, servers: list[str] = ()) -> str:
    """POST /rooms/{roomId}/join and /join/{roomIdOrAlias}. A room this server is not in (or a remote
    alias) is joined over federation (`apps.federation.remote_join`), through `servers` (the client's
    `via` / `server_name`) and the servers the room ID, alias or a pending invite name."""
    from apps.accounts.auth import require_not_suspended
    from apps.federation import remote_join

    require_not_suspended(getattr(requester, "user", None))  # a remote join sends nothing from here
    servers = list(servers)
    if not room_id.startswith("!"):
        from .aliases import parse_alias, room_id_for

        alias = parse_alias(room_id)
        if alias.is_local:
            room_id = room_id_for(room_id)
        else:
            # The alias's server names the room and servers in it (a room we are in is joined here).
            resolved = remote_join.resolve_remote_alias(str(alias))
            room_id, servers = resolved["room_id"], [*resolved["servers"], alias.domain, *servers]
    if remote_join.wants_remote_join(room_id, requester.user_id, servers):
        ratelimits.check_join(requester.user_id, remote=True)
        return remote_join.join_remote(requester.user_id, room_id, servers, _local_profile(requester.user_id) or {})
    _room_or_404(room_id)
    profile = _local_profile(requester.user_id) or {}
    current = stores.membership_of(room_id, requester.user_id)
    if current is not None and current[0] == "join":
        ev = stores.get_event(current[1])
        if ev is not None and all(ev.content.get(k) == profile.get(k) for k in ("displayname", "avatar_url")):
            return room_id  # already joined with this profile: nothing to change
    ratelimits.check_join(requester.user_id)  # rc_joins.local
    _send_membership(requester, room_id, requester.user_id, "join", profile)
    return room_id


def invite_user(requester, room_id: str, user_id: str, reason: str | None = None) -> None:
    """POST /rooms/{roomId}/invite."""
    from apps.accounts.auth import require_not_suspended

    require_not_suspended(getattr(requester, "user", None))
    target = str(UserID.parse(user_id))
    _room_or_404(room_id)
    content = dict(_invitee_profile(target))
    if reason is not None:
        content["reason"] = reason
    current = stores.membership_of(room_id, target)
    if current is not None and current[0] in ("join", "ban"):
        raise MatrixError(Codes.FORBIDDEN, f"{target} is {'already in' if current[0] == 'join' else 'banned from'} "
                                           "the room", 403)
    ratelimits.check_invite(room_id, requester.user_id, target)  # rc_invites
    _send_membership(requester, room_id, target, "invite", content)


def leave_room(requester, room_id: str, reason: str | None = None) -> None:
    """POST /rooms/{roomId}/leave (also rejects an invite)."""
    _room_or_404(room_id)
    current = stores.membership_of(room_id, requester.user_id)
    if current is None or current[0] in ("leave", "ban"):
        if current is not None and current[0] == "leave":
            return  # leaving twice is a no-op
        raise MatrixError(Codes.FORBIDDEN, "You are not in this room", 403)
    if current[0] in ("invite", "knock") and not stores.forward_extremities(room_id, limit=1):
        # An invite or a knock over federation, to a room this server is not in: rejected through the
        # inviting server, rescinded through a server in the room.
        from apps.federation.remote_rooms import reject_invite, rescind_knock

        (reject_invite if current[0] == "invite" else rescind_knock)(requester.user_id, room_id, reason)
        return
    if current[0] == "join":
        # The last user of this server in a room joined over federation leaves through a resident server.
        from apps.federation.remote_rooms import leave_through_resident

        if leave_through_resident(requester.user_id, room_id, reason) is not None:
            return
    content = {"reason": reason} if reason is not None else {}
    _send_membership(requester, room_id, requester.user_id, "leave", content)


def joined_rooms(requester) -> list[str]:
    return stores.joined_room_ids(requester.user_id)


# --- reading -----------------------------------------------------------------------------------------

def _readable_state(requester, room_id: str) -> dict[StateKey, str]:
    """The state the requester may see: the current state while joined, the state when they left
    (or were banned) for a former member; anyone else is refused."""
    _room_or_404(room_id)
    membership = stores.membership_of(room_id, requester.user_id)
    if membership is not None:
        if membership[0] == "join":
            return state_store.current_state(room_id)
        if membership[0] in ("leave", "ban"):
            state = state_store.state_after_event(membership[1])
            if state is not None:
                return state
    raise MatrixError(Codes.FORBIDDEN, "You aren't a member of the room and weren't previously a member", 403)


def _serialize(requester, event: Event) -> dict[str, Any]:
    return serialize.client_event(event, now_ms=_now_ms(), requester_device_id=requester.device_id,
                                  requester_user_id=requester.user_id)


def get_state(requester, room_id: str) -> list[dict[str, Any]]:
    """GET /rooms/{roomId}/state."""
    state = _readable_state(requester, room_id)
    events = stores.get_events(state.values())
    return [_serialize(requester, events[eid]) for eid in state.values() if eid in events]


def get_state_event(requester, room_id: str, event_type: str, state_key: str, fmt: str = "content") -> dict:
    """GET /rooms/{roomId}/state/{eventType}/{stateKey}?format=content|event."""
    if fmt not in ("content", "event"):
        raise MatrixError(Codes.INVALID_PARAM, "format must be 'content' or 'event'", 400)
    state = _readable_state(requester, room_id)
    event_id = state.get((event_type, state_key))
    event = stores.get_event(event_id) if event_id else None
    if event is None:
        raise MatrixError(Codes.NOT_FOUND, "Event not found", 404)
    return _serialize(requester, event) if fmt == "event" else event.content


def get_event(requester, room_id: str, event_id: str) -> dict[str, Any]:
    """GET /rooms/{roomId}/event/{eventId}: an event of the room the requester may see.

    The spec's only error here is 404 "not found or you do not have permission to read this event",
    so a non-member gets the same answer as for a missing event (and learns nothing of the room)."""
    # History visibility and redactions: apps/rooms/timeline.py (visibility.filter_events_for_user).
    from .timeline import get_event as _get_visible_event

    return _get_visible_event(requester, room_id, event_id)
