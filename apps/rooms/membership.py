"""Membership actions beyond join/invite/leave, and the members lists (client-server API, "Room
membership" and "Room participation").

    POST /rooms/{roomId}/kick     leave of another user    (kick level, and a higher level than theirs)
    POST /rooms/{roomId}/ban      ban                      (ban level, and a higher level than theirs)
    POST /rooms/{roomId}/unban    ban -> leave             (ban level)
    POST /knock/{roomIdOrAlias}   knock                    (v7+ rooms whose join rule is knock / knock_restricted;
                                                            over federation for a room this server is not in)
    POST /rooms/{roomId}/forget   hide a left room         (RoomMembership.forgotten; no event)
    GET  /rooms/{roomId}/members, /joined_members

Power levels are the authorisation rules' business: the events are built by
`creation.create_local_event`, whose pipeline raises `AuthError` (403 M_FORBIDDEN, naming what was
missing). The checks here only turn requests that cannot mean anything (kicking someone who is not
in the room, unbanning someone who is not banned) into clear 403s before an event is built.
"""
from __future__ import annotations

from typing import Any

from apps.core.errors import Codes, MatrixError
from apps.core.ids import UserID

from . import aliases, state_store, stores
from .auth_rules import AuthError
from .events import Event
from .handlers import _local_profile, _room_or_404, _send_membership, _serialize
from .pagination import RoomToken
from .persister import writer_for_room
from .power_levels import get_named_level, get_user_power_level
from .room_versions import get_room_version

MEMBERSHIPS = ("join", "invite", "knock", "leave", "ban")


def _target(user_id: str) -> str:
    return str(UserID.parse(user_id))


def _with_reason(content: dict[str, Any], reason: str | None) -> dict[str, Any]:
    if reason is not None:
        content["reason"] = reason
    return content


# --- kick, ban, unban --------------------------------------------------------------------------------

def _level_text(level) -> str:
    return "infinite (room creator)" if level == float("inf") else str(level)


def _send_moderation(requester, room_id: str, target: str, membership: str, content: dict, *,
                     action: str, levels: tuple[str, ...]) -> None:
    """Send the member event; a refusal by the power levels names the levels involved. `levels`
    are the named levels the auth rules ask of the sender, who must also outrank the target (R4.5.4
    and R4.6.2: unbanning needs the ban level and, as any leave of another user, the kick level)."""
    try:
        _send_membership(requester, room_id, target, membership, content)
    except AuthError as e:
        keys = [("m.room.create", ""), ("m.room.power_levels", ""), ("m.room.member", requester.user_id)]
        state = state_store.current_state(room_id, keys)
        events = stores.get_events(state.values())
        auth = {k: events[eid] for k, eid in state.items() if eid in events}
        own = auth.get(("m.room.member", requester.user_id))
        if own is None or own.membership != "join":
            raise MatrixError(Codes.FORBIDDEN, f"You cannot {action} {target}: you are not in the room", 403) from e
        rv = get_room_version(stores.get_room(room_id).room_version)
        mine = get_user_power_level(requester.user_id, auth, rv)
        theirs = get_user_power_level(target, auth, rv)
        for name in levels:
            needed = get_named_level(auth, name, None, rv)
            if mine < needed:
                why = f"that needs power level {needed} ('{name}') and yours is {_level_text(mine)}"
                break
        else:
            if theirs < mine:
                raise
            why = f"their power level ({_level_text(theirs)}) is not below yours ({_level_text(mine)})"
        raise MatrixError(Codes.FORBIDDEN, f"You cannot {action} {target}: {why}", 403) from e


def kick(requester, room_id: str, user_id: str, reason: str | None = None) -> None:
    """POST /rooms/{roomId}/kick: the target's membership becomes `leave`. Kicking an invited user
    revokes the invite; kicking a knocking user refuses the knock."""
    target = _target(user_id)
    _room_or_404(room_id)
    current = stores.membership_of(room_id, target, include_forgotten=True)
    if current is None or current[0] == "leave":
        raise MatrixError(Codes.FORBIDDEN, f"{target} is not in the room", 403)
    if current[0] == "ban":
        raise MatrixError(Codes.FORBIDDEN, f"{target} is banned from the room: unban them instead", 403)
    _send_moderation(requester, room_id, target, "leave", _with_reason({}, reason), action="kick",
                     levels=("kick",))


def ban(requester, room_id: str, user_id: str, reason: str | None = None) -> None:
    """POST /rooms/{roomId}/ban: any user may be banned, in the room or not (a pre-emptive ban)."""
    target = _target(user_id)
    _room_or_404(room_id)
    current = stores.membership_of(room_id, target, include_forgotten=True)
    if current is not None and current[0] == "ban":
        event = stores.get_event(current[1])
        if event is not None and event.content.get("reason") == reason:
            return  # already banned, for the same reason: nothing to change
    _send_moderation(requester, room_id, target, "ban", _with_reason({}, reason), action="ban",
                     levels=("ban",))


def unban(requester, room_id: str, user_id: str, reason: str | None = None) -> None:
    """POST /rooms/{roomId}/unban: ban -> leave; the user may then be invited or join again."""
    target = _target(user_id)
    _room_or_404(room_id)
    current = stores.membership_of(room_id, target, include_forgotten=True)
    if current is None or current[0] != "ban":
        raise MatrixError(Codes.FORBIDDEN, f"{target} is not banned from the room", 403)
    _send_moderation(requester, room_id, target, "leave", _with_reason({}, reason), action="unban",
                     levels=("ban", "kick"))


# --- knock ---------------------------------------------------------------------------------------------

def knock(requester, room_id_or_alias: str, reason: str | None = None, servers: list[str] = ()) -> str:
    """POST /knock/{roomIdOrAlias}: ask to be invited. A room this server is not in (or a remote alias)
    is knocked on over federation (`apps.federation.remote_knock`, make_knock / send_knock) through
    `servers` (the client's `via` / `server_name`) and the servers the alias or room ID name. Returns
    the room ID."""
    from apps.accounts.auth import require_not_suspended
    from apps.federation import remote_join, remote_knock

    require_not_suspended(getattr(requester, "user", None))  # a remote knock sends nothing from here
    servers = list(servers)
    if room_id_or_alias.startswith("#"):
        alias = aliases.parse_alias(room_id_or_alias)
        resolved = aliases.resolve_alias(str(alias))  # an unknown alias: 404; a remote one: asked of its server
        room_id = resolved["room_id"]
        servers = [*resolved["servers"], *([] if alias.is_local else [alias.domain]), *servers]
    else:
        room_id = room_id_or_alias
    user_id = requester.user_id
    remote = remote_join.wants_remote_join(room_id, user_id, servers)
    if not remote:
        room = _room_or_404(room_id)
        rv = get_room_version(room.room_version)
        if not rv.knock_join_rule:
            raise MatrixError(Codes.FORBIDDEN, f"Room version {rv.identifier} does not support knocking", 403)
        rules_id = state_store.current_state(room_id, [("m.room.join_rules", "")]).get(("m.room.join_rules", ""))
        rules = stores.get_event(rules_id) if rules_id else None
        join_rule = rules.content.get("join_rule") if rules is not None else None
        if join_rule not in ("knock", "knock_restricted") or \
                (join_rule == "knock_restricted" and not rv.knock_restricted_join_rule):
            raise MatrixError(Codes.FORBIDDEN, "You are not allowed to knock on this room: it does not accept "
                              "knocks", 403)
    current = stores.membership_of(room_id, user_id, include_forgotten=True)
    if current is not None and current[0] in ("ban", "join", "invite"):
        why = {"ban": "you are banned from the room", "join": "you are already in the room",
               "invite": "you are already invited: join the room instead"}[current[0]]
        raise MatrixError(Codes.FORBIDDEN, f"You cannot knock on this room: {why}", 403)
    content = _with_reason(dict(_local_profile(user_id) or {}), reason)
    if remote:
        # The resident server checks the room version and join rule; its refusal reaches the client.
        return remote_knock.knock_remote(user_id, room_id, servers, content)
    _send_membership(requester, room_id, user_id, "knock", content)
    return room_id


# --- forget --------------------------------------------------------------------------------------------

def forget(requester, room_id: str) -> None:
    """POST /rooms/{roomId}/forget: only after leaving (or being kicked or banned). The room then
    drops out of the user's room lists and its history is no longer served to them; the next
    membership event (a new invite, a join) brings it back."""
    user_id = requester.user_id
    row = stores.membership_row(room_id, user_id)
    if row is None:
        return  # never in the room, or already gone: nothing to forget (as Synapse)
    membership, event_id, _, forgotten = row
    if membership not in ("leave", "ban"):
        # The spec's 400 for "The user has not left the room".
        raise MatrixError(Codes.UNKNOWN, f"User {user_id} is in room {room_id}", 400)
    if not forgotten:
        stores.forget_room(user_id, room_id, event_id)


# --- members -------------------------------------------------------------------------------------------

def _check_filter(name: str, value: str | None) -> str | None:
    if value is not None and value not in MEMBERSHIPS:
        raise MatrixError(Codes.INVALID_PARAM, f"{name} must be one of {', '.join(MEMBERSHIPS)}", 400)
    return value


def _keep(event: Event, membership: str | None, not_membership: str | None) -> bool:
    # Spec (getMembersByRoom): given both, the two filters are an OR: the membership *is*
    # `membership` or *is not* `not_membership`.
    m = event.membership
    if membership is not None and not_membership is not None:
        return m == membership or m != not_membership
    if membership is not None:
        return m == membership
    if not_membership is not None:
        return m != not_membership
    return True


def _token_of(room_id: str, at: str) -> RoomToken:
    # A /sync prev_batch (a StreamToken, for the room's writer) or a /messages token (`t...`);
    # garbage is 400 M_INVALID_PARAM.
    return RoomToken.parse(at, writer=writer_for_room(room_id))


def _state_at_point(room_id: str, at: str | None, row) -> tuple[dict, bool, bool]:
    """The state whose members to list, whether it is the current state, and whether it is a past
    point other than the requester's own departure (history visibility applies there).

    Joined: the current state, or the state at `at`. A former member (leave, ban): the state when
    they left, or at `at` if that is earlier. Anyone else: 403."""
    if row is None or row[3] or row[0] not in ("join", "leave", "ban"):
        raise MatrixError(Codes.FORBIDDEN, "You aren't a member of the room and weren't previously a member", 403)
    membership, event_id, left_at, _ = row
    if at is None:
        if membership == "join":
            return {}, True, False
        state = state_store.state_after_event(event_id)
        if state is None:
            raise MatrixError(Codes.FORBIDDEN, "You aren't a member of the room", 403)
        return state, False, False
    token = _token_of(room_id, at)
    # A former member sees nothing after their departure: the point is at the latest their leave.
    point = stores.last_event_at_token(room_id, token, max_stream=None if membership == "join" else left_at)
    if point is None:
        raise MatrixError(Codes.NOT_FOUND, "The room has no events at that point", 404)
    state = state_store.state_after_event(point)
    if state is None:
        raise MatrixError(Codes.NOT_FOUND, "The room has no state at that point", 404)
    return state, False, point != event_id


def _may_see_members_at(user_id: str, state: dict, events: dict[str, Event]) -> bool:
    """History visibility at a past point: a member then, or `shared`/`world_readable` history
    (the requester is or was a member), or `invited` while invited."""
    own_id = state.get(("m.room.member", user_id))
    own = events.get(own_id).membership if own_id in events else None
    if own == "join":
        return True
    hv_id = state.get(("m.room.history_visibility", ""))
    hv = events.get(hv_id).content.get("history_visibility") if hv_id in events else "shared"
    return hv in ("shared", "world_readable") or (hv == "invited" and own == "invite")


def get_members(requester, room_id: str, *, at: str | None = None, membership: str | None = None,
                not_membership: str | None = None) -> list[dict[str, Any]]:
    """GET /rooms/{roomId}/members: the m.room.member events of the room as ClientEvents.

    A bounded number of queries whatever the size of the room: the room, the requester's
    membership, then either the current member events (one query) or a state group and its events."""
    _check_filter("membership", membership)
    _check_filter("not_membership", not_membership)
    _room_or_404(room_id)
    row = stores.membership_row(room_id, requester.user_id)
    state, is_current, check_visibility = _state_at_point(room_id, at, row)
    if is_current:
        if membership is not None and not_membership is None:
            members = stores.current_member_events(room_id, [membership])
        elif not_membership is not None and membership is None:
            members = stores.current_member_events(room_id, [m for m in MEMBERSHIPS if m != not_membership])
        else:
            members = stores.current_member_events(room_id)
    else:
        wanted = [eid for (etype, _), eid in state.items() if etype == "m.room.member"]
        hv_id = state.get(("m.room.history_visibility", ""))
        events = stores.get_events(wanted + ([hv_id] if hv_id else []))
        if check_visibility and not _may_see_members_at(requester.user_id, state, events):
            raise MatrixError(Codes.FORBIDDEN, "You may not see the room's members at that point", 403)
        members = sorted((events[e] for e in wanted if e in events),
                         key=lambda ev: (ev.internal.stream_ordering or 0, ev.event_id))
    return [_serialize(requester, ev) for ev in members if _keep(ev, membership, not_membership)]


def get_joined_members(requester, room_id: str) -> dict[str, dict[str, str]]:
    """GET /rooms/{roomId}/joined_members: {user_id: {display_name, avatar_url}} of the joined
    members. For members of the room (and anyone, for world-readable rooms), as Synapse."""
    _room_or_404(room_id)
    current = stores.membership_of(room_id, requester.user_id)
    if current is None or current[0] != "join":
        hv_id = state_store.current_state(room_id, [("m.room.history_visibility", "")]).get(
            ("m.room.history_visibility", ""))
        hv = stores.get_event(hv_id) if hv_id else None
        if hv is None or hv.content.get("history_visibility") != "world_readable":
            raise MatrixError(Codes.FORBIDDEN, "You aren't a member of the room", 403)
    joined: dict[str, dict[str, str]] = {}
    for ev in stores.current_member_events(room_id, ["join"]):
        profile: dict[str, str] = {}
        name, avatar = ev.content.get("displayname"), ev.content.get("avatar_url")
        if isinstance(name, str):
            profile["display_name"] = name
        if isinstance(avatar, str):
            profile["avatar_url"] = avatar
        joined[ev.state_key] = profile
    return joined
