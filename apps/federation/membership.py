"""Joins, leaves, knocks and invites handshaken by other servers (spec: server-server API, "Joining
Rooms", "Restricted rooms", "Knocking upon a room", "Inviting to a room", "Leaving Rooms"):

    GET /make_join/{roomId}/{userId}?ver=     makeJoin     a join template at our forward extremities
    PUT /v2/send_join/{roomId}/{eventId}       sendJoinV2   the signed join through the pipeline; the
                                                            state before it and its auth chain
    GET /make_leave, PUT /v2/send_leave        makeLeave, sendLeaveV2
    GET /make_knock, PUT /send_knock           makeKnock, sendKnock (stripped state back)
    PUT /v2/invite/{roomId}/{eventId}          sendInviteV2  we co-sign an invite of a local user

A template is built as a local event would be (`apps.rooms.creation.build_event`: prev events, depth,
auth events), checked against the current state with the auth rules so a join that cannot succeed is
refused at once (403), and handed back without hashes or signatures: the remote server signs it.

The remote event comes back through the one pipeline (`pipeline.process_remote_event`): format,
signatures and hashes, auth against its auth events and the state before it, soft-fail. A handshake
event the rules reject is refused with 403 (it stays stored as rejected, as every rejected PDU does).

An invite to a room this server is not in cannot be checked against any state: it is verified
(format, the sender's server's signature), co-signed and stored as an out-of-band membership (an
outlier with a stream position, `InternalMetadata.out_of_band_membership`) carrying the stripped
state the inviting server sent, which is what the invitee's /sync shows under `rooms.invite`.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction

from apps.core import ratelimit
from apps.core.errors import Codes, MatrixError
from apps.core.ids import UserID
from apps.rooms import creation, pipeline, state_store
from apps.rooms import stores as room_stores
from apps.rooms.auth_rules import AUTHORISING_USER, JOIN_RULES_KEY, AuthError, auth_types_for_event, check_auth_rules
from apps.rooms.event_format import check_pdu_format
from apps.rooms.event_signing import sign_event, verify_event_signatures
from apps.rooms.events import Event, InternalMetadata
from apps.rooms.persister import EventContext, send_to_persister
from apps.rooms.power_levels import get_named_level, get_user_power_level
from apps.rooms.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion, get_room_version

from . import acl, handlers, keyring, stores

INCOMPATIBLE_ROOM_VERSION = "M_INCOMPATIBLE_ROOM_VERSION"
UNABLE_TO_AUTHORISE_JOIN = "M_UNABLE_TO_AUTHORISE_JOIN"
UNABLE_TO_GRANT_JOIN = "M_UNABLE_TO_GRANT_JOIN"
CREATE_KEY = ("m.room.create", "")
# Spec: client-server API, "Stripped state" (what an invitee or knocker sees of the room).
STRIPPED_STATE_TYPES = ("m.room.create", "m.room.join_rules", "m.room.name", "m.room.avatar",
                        "m.room.canonical_alias", "m.room.encryption", "m.room.topic")


# --- templates -----------------------------------------------------------------------------------------

def _check_versions(rv: RoomVersion, supported: list[str]) -> None:
    if rv.identifier not in supported:
        raise MatrixError(INCOMPATIBLE_ROOM_VERSION, "Your homeserver does not support the features required "
                          f"to interact with this room (version {rv.identifier})", 400,
                          room_version=rv.identifier)


def _check_user_of_origin(origin: str, user_id: str) -> None:
    try:
        user = UserID.parse(user_id)
    except MatrixError:
        raise MatrixError(Codes.BAD_JSON, f"Invalid user ID {user_id!r}", 400) from None
    if user.domain != origin:
        raise MatrixError(Codes.FORBIDDEN, f"User {user_id} does not belong to {origin}", 403)


def _auth_events_of(event: Event, state: dict) -> dict:
    keys = set(auth_types_for_event(event)) | {CREATE_KEY}
    ids = {k: state[k] for k in keys if k in state}
    found = room_stores.get_events(ids.values())
    return {k: found[eid] for k, eid in ids.items() if eid in found}


def _template(room_id: str, rv: RoomVersion, user_id: str, membership: str, content: dict | None = None) -> dict:
    """A member event template for `user_id` at the room's forward extremities, checked against the
    state it would follow (403 when the auth rules refuse it)."""
    extremities = room_stores.forward_extremities(room_id)
    if not extremities:
        raise MatrixError(Codes.NOT_FOUND, "This server is not in the room", 404)
    prev_ids = [eid for eid, _ in extremities]
    depth = min(max(d for _, d in extremities) + 1, creation.MAX_DEPTH)
    context = pipeline.context_after(room_id, rv, prev_ids)
    event = creation.build_event(rv=rv, room_id=room_id, sender=user_id, prev_ids=prev_ids, depth=depth,
                                 context=context, event_dict={"type": "m.room.member", "state_key": user_id,
                                                              "content": {**(content or {}),
                                                                          "membership": membership}})
    pdu = dict(event.pdu)
    # The built event carries our signature, which is what rule 4.2 asks of a join we authorise.
    try:
        check_auth_rules(event, _auth_events_of(event, context.state_before))
    except AuthError as e:
        raise MatrixError(Codes.FORBIDDEN, f"You are not allowed to {membership} this room: {e.reason}", 403) \
            from None
    for key in ("hashes", "signatures", "unsigned"):
        pdu.pop(key, None)
    if rv.event_format == 1:
        pdu.pop("event_id", None)  # the remote server names a v1/v2 event itself
    pdu["origin"] = settings.HS.server_name
    return pdu


def _restricted_authoriser(room_id: str, rv: RoomVersion, user_id: str) -> str | None:
    """For a restricted room (v8+ `restricted`, v10+ `knock_restricted`): the local user who authorises
    the join of `user_id`, None when the join rule is not restricted or the user needs no authorising
    (already joined or invited). Spec: server-server API, "Restricted rooms"."""
    state = state_store.current_state(room_id)
    jr_id = state.get(JOIN_RULES_KEY)
    jr = room_stores.get_event(jr_id) if jr_id else None
    rule = jr.content.get("join_rule") if jr is not None else None
    if not ((rule == "restricted" and rv.restricted_join_rule)
            or (rule == "knock_restricted" and rv.knock_restricted_join_rule)):
        return None
    current = room_stores.membership_of(room_id, user_id, include_forgotten=True)
    if current is not None and current[0] in ("join", "invite"):
        return None
    allow = jr.content.get("allow")
    conditions = [c for c in allow if isinstance(c, dict) and c.get("type") == "m.room_membership"
                  and isinstance(c.get("room_id"), str)] if isinstance(allow, list) else []
    known = [c["room_id"] for c in conditions if room_stores.get_room(c["room_id"]) is not None
             and room_stores.forward_extremities(c["room_id"], limit=1)]
    if conditions and not known:
        raise MatrixError(UNABLE_TO_AUTHORISE_JOIN, "This server cannot tell whether the user may join", 400)
    if not any((room_stores.membership_of(r, user_id) or ("",))[0] == "join" for r in known):
        raise MatrixError(Codes.FORBIDDEN, "You do not meet any condition of the room's join rule", 403)
    # A local member able to invite authorises the join (auth rules v8+ 4.3.5).
    ids = [state[k] for k in (CREATE_KEY, ("m.room.power_levels", "")) if k in state]
    auth = {ev.state_pair: ev for ev in room_stores.get_events(ids).values()}
    invite_level = get_named_level(auth, "invite", None, rv)
    me = ":" + settings.HS.server_name
    for member in room_stores.current_member_events(room_id, ["join"]):
        uid = member.state_key or ""
        if uid.endswith(me) and get_user_power_level(uid, auth, rv) >= invite_level:
            return uid
    raise MatrixError(UNABLE_TO_GRANT_JOIN, "No user of this server can authorise the join", 400)


def make_join(origin: str, room_id: str, user_id: str, versions: list[str]) -> dict[str, Any]:
    rv = handlers.check_room(origin, room_id)
    _check_user_of_origin(origin, user_id)
    _check_versions(rv, versions or ["1"])
    content: dict[str, Any] = {}
    authoriser = _restricted_authoriser(room_id, rv, user_id)
    if authoriser is not None:
        content[AUTHORISING_USER] = authoriser
    return {"event": _template(room_id, rv, user_id, "join", content), "room_version": rv.identifier}


def make_leave(origin: str, room_id: str, user_id: str) -> dict[str, Any]:
    rv = handlers.check_room(origin, room_id)
    _check_user_of_origin(origin, user_id)
    return {"event": _template(room_id, rv, user_id, "leave"), "room_version": rv.identifier}


def make_knock(origin: str, room_id: str, user_id: str, versions: list[str]) -> dict[str, Any]:
    rv = handlers.check_room(origin, room_id)
    _check_user_of_origin(origin, user_id)
    _check_versions(rv, versions)
    if not rv.knock_join_rule:
        raise MatrixError(INCOMPATIBLE_ROOM_VERSION, f"Room version {rv.identifier} does not support knocking",
                          400, room_version=rv.identifier)
    return {"event": _template(room_id, rv, user_id, "knock"), "room_version": rv.identifier}


# --- the signed events ---------------------------------------------------------------------------------

def _parse_member_event(origin: str, room_id: str, event_id: str, body: Any, rv: RoomVersion,
                        membership: str) -> Event:
    if not isinstance(body, dict):
        raise MatrixError(Codes.BAD_JSON, "The body must be the signed event", 400)
    check_pdu_format(body, rv)
    event = Event(body, rv)
    if event.event_id != event_id:
        raise MatrixError(Codes.BAD_JSON, "The event ID does not match the path", 400)
    if event.room_id != room_id:
        raise MatrixError(Codes.BAD_JSON, "The event is not for this room", 400)
    if event.type != "m.room.member" or event.membership != membership:
        raise MatrixError(Codes.BAD_JSON, f"The event is not a {membership} membership event", 400)
    if event.state_key != event.sender:
        raise MatrixError(Codes.BAD_JSON, "state_key must be the sender", 400)
    _check_user_of_origin(origin, event.sender)
    return event


def _process(event: Event) -> Event:
    with transaction.atomic():
        pipeline.process_remote_event(event, keyring.key_lookup)
    stored = room_stores.get_event(event.event_id)
    if stored is None or stored.rejected:
        reason = stored.internal.rejected_reason if stored is not None else "not stored"
        raise MatrixError(Codes.FORBIDDEN, f"The event is not allowed: {reason}", 403)
    if stored.internal.soft_failed:
        raise MatrixError(Codes.FORBIDDEN, "The event is not allowed by the room's current state", 403)
    return stored


def send_join(origin: str, room_id: str, event_id: str, body: Any) -> dict[str, Any]:
    rv = handlers.check_room(origin, room_id)
    event = _parse_member_event(origin, room_id, event_id, body, rv, "join")
    authoriser = event.content.get(AUTHORISING_USER)
    signed_by_us = False
    if isinstance(authoriser, str) and rv.restricted_join_rule:
        if UserID.parse(authoriser).domain != settings.HS.server_name:
            raise MatrixError(Codes.FORBIDDEN, "The join is authorised by a user of another server", 403)
        _restricted_authoriser(room_id, rv, event.sender)  # the user must still meet a condition
        event = Event(sign_event(dict(event.pdu), rv), rv)
        signed_by_us = True
    stored = _process(event)
    state = state_store.state_before_event(stored.event_id) or {}
    state_ids = list(state.values())
    chain_ids = stores.auth_chain_ids(state_ids + [stored.event_id], rv, room_id)
    found = room_stores.get_events(set(state_ids) | chain_ids)
    response: dict[str, Any] = {
        "state": [found[i].get_pdu_json() for i in state_ids if i in found],
        "auth_chain": [found[i].get_pdu_json() for i in sorted(chain_ids) if i in found],
        "members_omitted": False,
        "servers_in_room": sorted(stores.servers_with_membership(room_id)),
        "origin": settings.HS.server_name,
    }
    if signed_by_us:
        response["event"] = stored.get_pdu_json()
    return response


def send_leave(origin: str, room_id: str, event_id: str, body: Any) -> dict[str, Any]:
    rv = handlers.check_room(origin, room_id)
    _process(_parse_member_event(origin, room_id, event_id, body, rv, "leave"))
    return {}


def room_state_for_knock(room_id: str) -> list[dict[str, Any]]:
    """The stripped-state events of the room (create event included) as full PDUs (spec 1.16)."""
    state = state_store.current_state(room_id, [(t, "") for t in STRIPPED_STATE_TYPES])
    events = room_stores.get_events(state.values())
    return [events[state[(t, "")]].get_pdu_json() for t in STRIPPED_STATE_TYPES
            if (t, "") in state and state[(t, "")] in events]


def send_knock(origin: str, room_id: str, event_id: str, body: Any) -> dict[str, Any]:
    rv = handlers.check_room(origin, room_id)
    if not rv.knock_join_rule:
        raise MatrixError(INCOMPATIBLE_ROOM_VERSION, f"Room version {rv.identifier} does not support knocking",
                          400, room_version=rv.identifier)
    _process(_parse_member_event(origin, room_id, event_id, body, rv, "knock"))
    return {"knock_room_state": room_state_for_knock(room_id)}


# --- invites -------------------------------------------------------------------------------------------

def _local_user_exists(user_id: str) -> bool:
    from apps.accounts.models import User

    user = UserID.parse(user_id)
    if user.domain != settings.HS.server_name:
        return False
    return User.objects.filter(localpart=user.localpart, deactivated=False).exists()


def _invalid(reason: str) -> MatrixError:
    # Spec (sendInviteV2): no code is mandated for an invite that fails validation; M_INVALID_PARAM
    # is the one servers SHOULD use.
    return MatrixError(Codes.INVALID_PARAM, reason, 400)


def _stripped(item: dict) -> dict[str, Any]:
    return {k: item[k] for k in ("type", "state_key", "content", "sender") if k in item}


def _invite_room_state(state: Any, rv: RoomVersion, room_id: str) -> list[dict[str, Any]]:
    """`invite_room_state` as the stripped state a client sees.

    Spec 1.16: the entries are events in the room version's format, include the create event, are
    signed and are of the invite's room. Servers MAY check that for v1-v11 (senders are still
    migrating: malformed entries are dropped there) and SHOULD for later versions (checked: 400)."""
    if state is None:
        state = []
    if not isinstance(state, list):
        raise _invalid("invite_room_state must be a list of events")
    if not rv.room_id_from_create_event:
        return [_stripped(item) for item in state if isinstance(item, dict) and isinstance(item.get("type"), str)
                and isinstance(item.get("state_key"), str) and isinstance(item.get("content"), dict)]
    out, has_create = [], False
    for item in state:
        try:
            check_pdu_format(item, rv)
            ev = Event(item, rv)
            if ev.room_id != room_id:
                raise _invalid(f"invite_room_state holds an event of another room ({ev.room_id})")
            verify_event_signatures(item, rv, keyring.key_lookup)
        except MatrixError as e:
            raise _invalid(f"invite_room_state: {e.error}") from None
        has_create = has_create or (ev.type == "m.room.create" and ev.state_key == "")
        out.append(_stripped(item))
    if not has_create:
        raise _invalid("invite_room_state must include the room's m.room.create event")
    return out


def _check_invite_event(origin: str, room_id: str, event_id: str, pdu: Any, rv: RoomVersion) -> Event:
    """The validation sendInviteV1/V2 ask for before a server co-signs an invite."""
    if not isinstance(pdu, dict):
        raise _invalid("event must be the invite event")
    try:
        check_pdu_format(pdu, rv)
    except MatrixError as e:
        raise _invalid(e.error) from None
    event = Event(pdu, rv)
    if event.event_id != event_id:
        raise _invalid("The event ID does not match the path")
    if event.room_id != room_id:
        raise _invalid("The event is not for this room")
    if event.type != "m.room.member" or event.membership != "invite":
        raise _invalid("The event is not an invite")
    if UserID.parse(event.sender).domain != origin:
        raise _invalid(f"The sender is not a user of {origin}")
    if not isinstance(event.state_key, str) or not _local_user_exists(event.state_key):
        raise _invalid("The invitee is not a user of this server")
    try:
        verify_event_signatures(event.pdu, rv, keyring.key_lookup)
    except MatrixError as e:
        raise _invalid(e.error) from None
    return event


def receive_invite(origin: str, room_id: str, event_id: str, body: Any) -> dict[str, Any]:
    """PUT /v2/invite: verify, co-sign and store the invite of a local user; the signed event back."""
    if not isinstance(body, dict):
        raise MatrixError(Codes.NOT_JSON, "Content not JSON.", 400)
    version = body.get("room_version")
    if not isinstance(version, str):
        raise MatrixError(Codes.MISSING_PARAM, "Missing parameter: room_version", 400)
    if version not in KNOWN_ROOM_VERSIONS:
        raise MatrixError(INCOMPATIBLE_ROOM_VERSION, f"Room version {version} is not supported", 400,
                          room_version=version)
    return _receive_invite(origin, room_id, event_id, body.get("event"), body.get("invite_room_state"),
                           get_room_version(version))


def receive_invite_v1(origin: str, room_id: str, event_id: str, body: Any) -> dict[str, Any]:
    """PUT /v1/invite: the body is the event, its `unsigned.invite_room_state` the room's state; the
    spec has the receiver assume room version 1 or 2 (same event format; v1 unless we know the room)."""
    if not isinstance(body, dict):
        raise MatrixError(Codes.NOT_JSON, "Content not JSON.", 400)
    room = room_stores.get_room(room_id)
    version = room.room_version if room is not None and room.room_version in ("1", "2") else "1"
    unsigned = body.get("unsigned") if isinstance(body.get("unsigned"), dict) else {}
    pdu = {k: v for k, v in body.items() if k != "unsigned"}
    return _receive_invite(origin, room_id, event_id, pdu, unsigned.get("invite_room_state"),
                           get_room_version(version))


def _receive_invite(origin: str, room_id: str, event_id: str, pdu: Any, raw_state: Any,
                    rv: RoomVersion) -> dict[str, Any]:
    room = room_stores.get_room(room_id)
    if room is not None and room.room_version != rv.identifier:
        raise _invalid("room_version does not match the room")
    if room is not None:
        acl.check(room_id, origin)
    # Checked before we add our signature: a forged invite is never co-signed.
    event = _check_invite_event(origin, room_id, event_id, pdu, rv)
    in_room = room is not None and bool(room_stores.forward_extremities(room_id, limit=1))
    # The sent room state is only of use (and only checked) for a room we are not in.
    invite_state = None if in_room else _invite_room_state(raw_state, rv, room_id)
    # rc_invites.per_user counts invites a user receives, from any server (as Synapse).
    ratelimit.check(f"rc_invites_user:{event.state_key}", settings.HS.rc_invites_per_user)
    signed = sign_event(dict(event.pdu), rv)
    if in_room:
        _process(Event(signed, rv))
    else:
        current = room_stores.membership_of(room_id, event.state_key, include_forgotten=True)
        if current is not None and current[0] in ("join", "ban"):
            raise MatrixError(Codes.FORBIDDEN, f"{event.state_key} is already {current[0]} in the room", 403)
        oob = Event(signed, rv, unsigned={"invite_room_state": invite_state},
                    internal=InternalMetadata(outlier=True, out_of_band_membership=True))
        with transaction.atomic():
            send_to_persister(room_id, oob, EventContext())
    return {"event": signed}
