"""POST /rooms/{roomId}/upgrade (upgradeRoom): replace a room by a new room of another version.

Spec: client-server API, "Room Upgrades", server behaviour; done as Synapse's `RoomCreationHandler.
upgrade_room`, in ONE transaction (a failure anywhere leaves both rooms untouched):

  1. the requester must be joined and have the power to send `m.room.tombstone`;
  2. the replacement room: `m.room.create` with `predecessor` (and the old room's `type` and
     `m.federate: false`), the requester's join, the old power levels (values normalised to integers;
     in v12 rooms the creators are left out of `users`, since they have infinite power; out of a
     v12 room, the requester gets 100), the transferable state (server ACL, encryption, name, avatar,
     topic, guest access, history visibility, join rules — a join rule the new version lacks
     becomes `invite`) and the old room's bans. When the requester's copied level is too low to send
     that state, the power levels are first sent with the requester raised and then restored;
  3. `m.room.tombstone` in the old room. Before v12 it is sent first so that `predecessor.event_id`
     names it; a v12 room is named after its create event, so there the tombstone follows and
     `predecessor` has no `event_id` (allowed from v1.16);
  4. the local aliases move to the new room, the canonical alias event follows them (the old room's
     loses the local aliases, when the requester may change it), the directory publication moves;
  5. the old room's `events_default` and `invite` rise to max(50, users_default + 1) when lower, if
     the requester may change its power levels.
"""
from __future__ import annotations

import copy
from typing import Any

from django.db import transaction

from apps.core.errors import Codes, MatrixError
from apps.core.ids import UserID

from . import directory_store, state_store, stores
from .auth_rules import AuthError
from .creation import create_local_event, new_room_id
from .events import Event
from .handlers import _local_profile, _send_membership
from .power_levels import creators, get_user_power_level, parse_power_level, required_level
from .room_versions import RoomVersion, get_room_version

CREATE = ("m.room.create", "")
POWER_LEVELS = ("m.room.power_levels", "")
TOMBSTONE = ("m.room.tombstone", "")
CANONICAL_ALIAS = ("m.room.canonical_alias", "")
JOIN_RULES = ("m.room.join_rules", "")
# Spec "Room Upgrades", server behaviour step 3, in Synapse's order.
TRANSFERABLE = ("m.room.server_acl", "m.room.encryption", "m.room.name", "m.room.avatar", "m.room.topic",
                "m.room.guest_access", "m.room.history_visibility", "m.room.join_rules")
BAD_STATE = "M_BAD_STATE"


def _send(requester, room_id: str, etype: str, content: dict, state_key: str = "") -> Event:
    event, _ = create_local_event(requester, room_id, {"type": etype, "state_key": state_key, "content": content})
    return event


def _send_if_allowed(requester, room_id: str, etype: str, content: dict) -> None:
    """Best effort: the old room's alias and power-level updates need powers the requester may lack."""
    try:
        with transaction.atomic():
            _send(requester, room_id, etype, content)
    except AuthError:
        pass


def _join_rule_supported(rule: Any, rv: RoomVersion) -> bool:
    return rule in ("public", "invite", "private") or (rule == "knock" and rv.knock_join_rule) \
        or (rule == "restricted" and rv.restricted_join_rule) \
        or (rule == "knock_restricted" and rv.knock_restricted_join_rule)


def _normalised_power_levels(content: dict, old_rv: RoomVersion) -> dict[str, Any]:
    """The old power levels with every level an integer (strings and floats of old versions would be
    refused by v10+ rooms); invalid values are dropped."""
    out: dict[str, Any] = {}
    for key, value in content.items():
        if key in ("users", "events", "notifications"):
            if isinstance(value, dict):
                levels = {k: parse_power_level(v, old_rv) for k, v in value.items()}
                out[key] = {k: v for k, v in levels.items() if v is not None}
        elif key in ("users_default", "events_default", "state_default", "ban", "kick", "redact", "invite",
                     "historical"):
            level = parse_power_level(value, old_rv)
            if level is not None:
                out[key] = level
        else:
            out[key] = copy.deepcopy(value)
    return out


def upgrade_room(requester, room_id: str, new_version: Any, additional_creators: Any = None) -> str:
    new_rv = get_room_version(new_version)
    room = stores.get_room(room_id)
    if room is None:
        raise MatrixError(Codes.NOT_FOUND, "Unknown room", 404)
    old_rv = get_room_version(room.room_version)
    user_id = requester.user_id

    extra_creators: list[str] = []
    if additional_creators is not None:
        if not isinstance(additional_creators, list) or not all(isinstance(u, str) for u in additional_creators):
            raise MatrixError(Codes.BAD_JSON, "additional_creators must be a list of user IDs", 400)
        extra_creators = [str(UserID.parse(u)) for u in additional_creators]
        extra_creators = [u for u in dict.fromkeys(extra_creators) if u != user_id]

    keys = [CREATE, POWER_LEVELS, TOMBSTONE, CANONICAL_ALIAS, ("m.room.member", user_id)] + \
        [(t, "") for t in TRANSFERABLE]
    ids = state_store.current_state(room_id, keys)
    loaded = stores.get_events(ids.values())
    state = {k: loaded[eid] for k, eid in ids.items() if eid in loaded}
    member = state.get(("m.room.member", user_id))
    if member is None or member.membership != "join":
        raise MatrixError(Codes.FORBIDDEN, "You are not in this room", 403)
    if get_user_power_level(user_id, state, old_rv) < required_level("m.room.tombstone", True, state, old_rv):
        raise MatrixError(Codes.FORBIDDEN, "You cannot upgrade this room: it needs the power to send "
                                           "m.room.tombstone", 403)
    if TOMBSTONE in state:
        raise MatrixError(BAD_STATE, "This room has already been upgraded", 400)

    with transaction.atomic():
        new_id = _upgrade(requester, room_id, old_rv, new_rv, state, extra_creators)
    return new_id


def _upgrade(requester, old_id: str, old_rv: RoomVersion, new_rv: RoomVersion, state: dict, extra_creators: list[str]
             ) -> str:
    user_id = requester.user_id
    old_create = state[CREATE].content
    create_content: dict[str, Any] = {"room_version": new_rv.identifier, "predecessor": {"room_id": old_id}}
    if isinstance(old_create.get("type"), str):
        create_content["type"] = old_create["type"]
    if old_create.get("m.federate", True) is False:
        create_content["m.federate"] = False
    if not new_rv.implicit_room_creator:
        create_content["creator"] = user_id
    if new_rv.privileged_creators and extra_creators:
        create_content["additional_creators"] = extra_creators

    def tombstone(replacement: str) -> Event:
        return _send(requester, old_id, "m.room.tombstone",
                     {"body": "This room has been replaced", "replacement_room": replacement})

    if new_rv.room_id_from_create_event:
        create_event, _ = create_local_event(requester, None, {"type": "m.room.create", "state_key": "",
                                                               "content": create_content}, room_version=new_rv)
        new_id = create_event.room_id
        tombstone_event = None
    else:
        new_id = new_room_id()
        tombstone_event = tombstone(new_id)
        create_content["predecessor"]["event_id"] = tombstone_event.event_id
        create_local_event(requester, new_id, {"type": "m.room.create", "state_key": "", "content": create_content},
                           room_version=new_rv)
    try:
        _send_membership(requester, new_id, user_id, "join", _local_profile(user_id) or {})
        _copy_state(requester, new_id, old_id, old_rv, new_rv, state, extra_creators)
    except AuthError as e:
        raise MatrixError(Codes.FORBIDDEN, f"The room's state cannot be copied to the new room: {e.reason}", 403) \
            from e
    if tombstone_event is None:
        tombstone(new_id)

    _move_aliases(requester, old_id, new_id, state.get(CANONICAL_ALIAS))
    if directory_store.is_published(old_id):
        directory_store.set_published(old_id, False)
        directory_store.set_published(new_id, True)
    _restrict_old_room(requester, old_id, old_rv, state.get(POWER_LEVELS))
    return new_id


def _copy_state(requester, new_id: str, old_id: str, old_rv: RoomVersion, new_rv: RoomVersion, state: dict,
                extra_creators: list[str]) -> None:
    user_id = requester.user_id
    old_pl = state.get(POWER_LEVELS)
    if old_pl is not None:
        pl = _normalised_power_levels(old_pl.content, old_rv)
    else:
        pl = {"users": {u: 100 for u in creators(state.get(CREATE))}}
    users = dict(pl.get("users") or {})
    if new_rv.privileged_creators:
        for creator in (user_id, *extra_creators):
            users.pop(creator, None)
    elif old_rv.privileged_creators or old_pl is None:
        # Out of a v12 room, where creators are not listed: the upgrading user keeps their power.
        users[user_id] = max(users.get(user_id, 0), 100)
    pl["users"] = users

    # Can the requester send the copied state with these power levels? If not, raise them until done.
    final_pl = pl
    if not new_rv.privileged_creators:
        events = pl.get("events") or {}
        needed = max([pl.get("state_default", 50), pl.get("ban", 50),
                      *[v for t, v in events.items() if t in (*TRANSFERABLE, "m.room.power_levels")]])
        if users.get(user_id, pl.get("users_default", 0)) < needed:
            pl = copy.deepcopy(pl)
            pl["users"][user_id] = needed
    _send(requester, new_id, "m.room.power_levels", pl)

    for etype in TRANSFERABLE:
        event = state.get((etype, ""))
        if event is None:
            continue
        content = copy.deepcopy(event.content)
        if etype == "m.room.join_rules" and not _join_rule_supported(content.get("join_rule"), new_rv):
            content = {"join_rule": "invite"}
        _send(requester, new_id, etype, content)

    for ban in stores.current_member_events(old_id, ["ban"]):
        content = {"membership": "ban"}
        if isinstance(ban.content.get("reason"), str):
            content["reason"] = ban.content["reason"]
        try:
            with transaction.atomic():
                _send(requester, new_id, "m.room.member", content, state_key=ban.state_key)
        except AuthError:
            pass  # a banned user with more power than the requester: their ban stays in the old room only

    if pl is not final_pl:
        _send(requester, new_id, "m.room.power_levels", final_pl)


def _move_aliases(requester, old_id: str, new_id: str, canonical: Event | None) -> None:
    directory_store.move_aliases(old_id, new_id)
    if canonical is None:
        return
    moved = set(directory_store.aliases_of_room(new_id))
    old_content = dict(canonical.content)
    new_content: dict[str, Any] = {}
    if old_content.get("alias") in moved:
        new_content["alias"] = old_content.pop("alias")
    alt = canonical.content.get("alt_aliases")
    if isinstance(alt, list):
        new_content["alt_aliases"] = [a for a in alt if a in moved]
        old_content["alt_aliases"] = [a for a in alt if a not in moved]
    if old_content != canonical.content:
        _send_if_allowed(requester, old_id, "m.room.canonical_alias", old_content)
    if new_content.get("alias") or new_content.get("alt_aliases"):
        _send(requester, new_id, "m.room.canonical_alias", new_content)


def _restrict_old_room(requester, old_id: str, old_rv: RoomVersion, pl_event: Event | None) -> None:
    content = copy.deepcopy(pl_event.content) if pl_event is not None else {}
    users_default = parse_power_level(content.get("users_default", 0), old_rv) or 0
    restricted = max(50, users_default + 1)
    changed = False
    for key in ("events_default", "invite"):
        current = parse_power_level(content.get(key, 0), old_rv)
        if current is None or current < restricted:
            content[key] = restricted
            changed = True
    if changed:
        _send_if_allowed(requester, old_id, "m.room.power_levels", content)

