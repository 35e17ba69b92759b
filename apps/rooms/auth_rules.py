"""The authorisation rules of room versions 1-12, as pure functions (no database).

Spec: `shared/matrix-spec/content/rooms/` — `fragments/v1-auth-rules.md` (v1, v2),
`fragments/v3-auth-rules.md` (v3-v5), the v6 and v7 pages, `fragments/v8-auth-rules.md` (v8, v9) and the
v10, v11 and v12 pages; the server-server API's "Auth events selection".

Rule numbers in comments are those of v6-v11 (`R4.3.5` = rule 4, point 3, sub-point 5). Versions 1-5
have the `m.room.aliases` rule as rule 4, so their rules 4.. are one higher (v1-v2 also end with the
redaction rule 11); v12 inserts rule 2 (the room ID names the create event), so its rules 2.. are one
higher too. Where the number differs, the comment says so.

Not checked here: "Events must be signed by the server denoted by the `sender` property" (a signature
check on receipt of a PDU, with the server's keys) and the derivation of a v12 room ID from the create
event's hash (event format code). Rule 4.2 (`join_authorised_via_users_server`) is checked as "a signature
from that server is present"; verifying it cryptographically needs the server's keys and is the
signature checks' job.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from apps.core.errors import Codes, MatrixError
from apps.core.ids import UserID

from .events import Event, StateKey
from .power_levels import (
    CREATE_KEY, POWER_LEVELS_KEY, creators, get_named_level, get_user_power_level,
    parse_power_level, required_level_for_event,
)
from .room_versions import KNOWN_ROOM_VERSIONS, RoomVersion

JOIN_RULES_KEY: StateKey = ("m.room.join_rules", "")
AUTHORISING_USER = "join_authorised_via_users_server"
# The power-level keys of rule 9.3 (v10+: 9.1 and 9.5).
NAMED_LEVELS = ("users_default", "events_default", "state_default", "ban", "redact", "kick", "invite")


class AuthError(MatrixError):
    """The event is not allowed by the authorisation rules (403 M_FORBIDDEN)."""

    def __init__(self, reason: str):
        super().__init__(Codes.FORBIDDEN, reason, 403)
        self.reason = reason


# --- helpers --------------------------------------------------------------------------------------

def _domain(identifier: Any) -> str | None:
    """The server name of a user/room/event ID (`sigil localpart:domain`), or None."""
    if not isinstance(identifier, str) or ":" not in identifier:
        return None
    return identifier.split(":", 1)[1] or None


def _is_valid_user_id(user_id: Any) -> bool:
    try:
        UserID.parse(user_id)
    except MatrixError:
        return False
    return True


def _membership_of(user_id: str | None, auth_events: Mapping[StateKey, Event]) -> str:
    """The user's current membership (`leave` when they have no member event)."""
    if user_id is None:
        return "leave"
    ev = auth_events.get(("m.room.member", user_id))
    if ev is None:
        return "leave"
    return ev.membership or "leave"


def _join_rule(auth_events: Mapping[StateKey, Event]) -> str:
    # No join rules event: "invite", as Synapse does (only invited or joined users may join).
    ev = auth_events.get(JOIN_RULES_KEY)
    if ev is None:
        return "invite"
    rule = ev.content.get("join_rule")
    return rule if isinstance(rule, str) else "invite"


def _dedupe(keys: Iterable[StateKey]) -> list[StateKey]:
    return list(dict.fromkeys(keys))


# --- auth events selection ----------------------------------------------------------------------------

def auth_types_for_event(event: Event) -> list[tuple[str, str]]:
    """The (type, state_key) pairs the server-server API's "Auth events selection" picks for `event`.

    Empty for the create event. Otherwise: the create event (not in v12, whose room ID names it), the
    power levels, the sender's member event; for member events also the target's member event, the join
    rules (join, invite, knock), the third-party invite whose state_key is
    `content.third_party_invite.signed.token` (invite), and the authorising user's member event
    (`content.join_authorised_via_users_server` on a join, in versions with restricted rooms).
    """
    if event.type == "m.room.create":
        return []
    rv = event.room_version
    keys: list[StateKey] = []
    if not rv.room_id_from_create_event:
        keys.append(CREATE_KEY)
    keys.append(POWER_LEVELS_KEY)
    keys.append(("m.room.member", event.sender))
    if event.type == "m.room.member" and isinstance(event.state_key, str):
        membership = event.membership
        keys.append(("m.room.member", event.state_key))
        if membership in ("join", "invite", "knock"):
            keys.append(JOIN_RULES_KEY)
        if membership == "invite":
            tpi = event.content.get("third_party_invite")
            signed = tpi.get("signed") if isinstance(tpi, dict) else None
            token = signed.get("token") if isinstance(signed, dict) else None
            if isinstance(token, str):
                keys.append(("m.room.third_party_invite", token))
        if membership == "join" and rv.restricted_join_rule:
            authoriser = event.content.get(AUTHORISING_USER)
            if isinstance(authoriser, str):
                keys.append(("m.room.member", authoriser))
    return _dedupe(keys)


def check_auth_events_selection(event: Event, auth_events_list: list[Event]) -> None:
    """Rule 2 (v12: 3) on the event's `auth_events` as listed in the PDU: no duplicate (type, state_key),
    only the pairs of the selection algorithm, no rejected events, the create event present (v1-v11; v12:
    absent, and every entry in the event's room) and every entry's room_id the event's. Raises AuthError.
    The create event itself is allowed by rule 1 before rule 2, so it is not checked here."""
    if event.type == "m.room.create":
        return
    rv = event.room_version
    allowed = set(auth_types_for_event(event))
    seen: set[StateKey] = set()
    has_create = False
    for ev in auth_events_list:
        pair = ev.state_pair
        # R2.1: duplicate entries for a (type, state_key) pair.
        if pair in seen:
            raise AuthError(f"Duplicate auth event for {pair!r}")
        if pair is not None:
            seen.add(pair)
        # R2.2: entries the auth events selection would not pick (v12: R3.2, the create event included).
        if pair not in allowed:
            raise AuthError(f"Unexpected auth event {ev.event_id} for {pair!r}")
        # R2.3: entries that were themselves rejected.
        if ev.rejected:
            raise AuthError(f"Auth event {ev.event_id} was rejected")
        has_create = has_create or pair == CREATE_KEY
        # R2.5 (v12: R3.5): every auth event is in the event's room.
        if ev.pdu.get("room_id") != event.pdu.get("room_id"):
            raise AuthError(f"Auth event {ev.event_id} is in another room")
    # R2.4: v1-v11 need the create event among the entries (v12 has no such point: it must be absent).
    if not rv.room_id_from_create_event and not has_create:
        raise AuthError("No m.room.create event in auth events")


# --- the rules -----------------------------------------------------------------------------------------

def check_auth_rules(event: Event, auth_events: Mapping[tuple[str, str], Event]) -> None:
    """Raise AuthError unless `event` is allowed by its room version's authorisation rules against
    `auth_events` — the state it is checked against (its auth events, or the room's current state),
    keyed by (type, state_key). Keys the auth events selection would not pick for `event` are ignored.
    In v12 the room's create event must be in `auth_events` under ("m.room.create", "") even though it is
    not listed in the PDU's auth_events (its ID is the room ID). Rules 2.1 and 2.2 (duplicates and
    unexpected entries in the PDU's list) are `check_auth_events_selection`'s."""
    rv = event.room_version

    # R1: the create event.
    if event.type == "m.room.create":
        _check_create(event, rv)
        return

    wanted = set(auth_types_for_event(event)) | {CREATE_KEY}
    auth = {k: v for k, v in auth_events.items() if k in wanted and v is not None}

    create = auth.get(CREATE_KEY)
    if rv.room_id_from_create_event:
        # v12 R2: the room ID is the ID of an accepted create event (with `!` for `$`).
        if create is None:
            raise AuthError("The room's m.room.create event is unknown")
        if create.rejected:
            raise AuthError("The room's m.room.create event was rejected")
        if create.room_id != event.room_id:
            raise AuthError("The room ID is not the create event's ID")
    else:
        # R2.4: the create event is among the auth events.
        if create is None:
            raise AuthError("No m.room.create event in auth events")

    for key, ev in auth.items():
        # R2.3 (v12: R3.3): no rejected auth events.
        if ev.rejected:
            raise AuthError(f"Auth event {ev.event_id} was rejected")
        # R2.5 (v12: R3.5): every auth event is in the event's room.
        if ev.room_id != event.room_id:
            raise AuthError(f"Auth event {ev.event_id} is in another room")

    # R3 (v12: R4): m.federate false keeps other servers out.
    if create.content.get("m.federate", True) is False and _domain(event.sender) != _domain(create.sender):
        raise AuthError("This room does not federate with the sender's server")

    # v1-v5 R4: m.room.aliases is authorised by the state_key's server (removed in v6).
    if rv.special_case_aliases_auth and event.type == "m.room.aliases":
        if not event.is_state():
            raise AuthError("m.room.aliases event has no state_key")  # R4.1
        if event.state_key != _domain(event.sender):
            raise AuthError("m.room.aliases state_key is not the sender's server")  # R4.2
        return  # R4.3

    # R4 (v1-v5: R5, v12: R5): membership.
    if event.type == "m.room.member":
        _check_membership(event, auth, create, rv)
        return

    sender_level = get_user_power_level(event.sender, auth, rv)

    # R5 (v1-v5: R6, v12: R6): the sender must be joined.
    if _membership_of(event.sender, auth) != "join":
        raise AuthError(f"{event.sender} is not in the room")

    # R6 (v1-v5: R7, v12: R7): m.room.third_party_invite needs the invite level.
    if event.type == "m.room.third_party_invite":
        if sender_level >= get_named_level(auth, "invite", 0, rv):
            return
        raise AuthError(f"{event.sender} may not invite (power level too low)")

    # R7 (v1-v5: R8, v12: R8): the event type's required power level.
    required = required_level_for_event(event, auth)
    if required > sender_level:
        raise AuthError(f"{event.sender} needs power level {required} to send {event.type}")

    # R8 (v1-v5: R9, v12: R9): state keys that are user IDs belong to that user.
    if event.is_state() and isinstance(event.state_key, str) and event.state_key.startswith("@") \
            and event.state_key != event.sender:
        raise AuthError("A state_key that is a user ID must be the sender's")

    # R9 (v1-v5: R10, v12: R10): power level changes.
    if event.type == "m.room.power_levels" and event.state_key == "":
        _check_power_levels(event, auth, create, sender_level, rv)
        return

    # v1-v2 R11: redactions need the redact level or the same server as the redacted event.
    if event.type == "m.room.redaction" and rv.event_format == 1:
        if sender_level >= get_named_level(auth, "redact", 50, rv):  # R11.1
            return
        redacts = event.redacts
        if redacts is not None and _domain(redacts) is not None and _domain(redacts) == _domain(event.event_id):
            return  # R11.2
        raise AuthError("Redaction of another server's event needs the redact level")  # R11.3
    # v3+: redactions are only subject to the rules above; whether the redaction is applied is decided
    # when it is served ("Handling redactions").

    # R10 (v1-v5: R11, v1-v2: R12, v12: R11): allow.


def _check_create(event: Event, rv: RoomVersion) -> None:
    # R1.1: no prev_events.
    if event.pdu.get("prev_events"):
        raise AuthError("m.room.create must not have prev_events")
    if rv.room_id_from_create_event:
        # v12 R1.2: no room_id (the room ID is derived from the event's hash).
        if "room_id" in event.pdu:
            raise AuthError("m.room.create must not have a room_id in this room version")
    else:
        # R1.2: the room ID's server is the sender's.
        room_domain = _domain(event.pdu.get("room_id"))
        if room_domain is None or room_domain != _domain(event.sender):
            raise AuthError("The room ID's server is not the sender's")
    # R1.3: content.room_version, if present, is a known version.
    if "room_version" in event.content and not (isinstance(event.content["room_version"], str)
                                                and event.content["room_version"] in KNOWN_ROOM_VERSIONS):
        raise AuthError(f"Unknown room version {event.content['room_version']!r}")
    if rv.privileged_creators:
        # v12 R1.4: additional_creators is an array of valid user IDs.
        if "additional_creators" in event.content:
            extra = event.content["additional_creators"]
            if not isinstance(extra, list) or not all(_is_valid_user_id(u) for u in extra):
                raise AuthError("additional_creators must be an array of user IDs")
    elif not rv.implicit_room_creator:
        # v1-v10 R1.4: content.creator is present (removed in v11).
        if "creator" not in event.content:
            raise AuthError("m.room.create has no creator")
    # R1.5: allow.


def _check_membership(event: Event, auth: Mapping[StateKey, Event], create: Event, rv: RoomVersion) -> None:
    # R4.1: a state_key and a membership.
    if not isinstance(event.state_key, str):
        raise AuthError("m.room.member has no state_key")
    if "membership" not in event.content:
        raise AuthError("m.room.member has no membership")
    membership = event.membership  # None when not a string: unknown (R4.8)
    target = event.state_key
    sender = event.sender
    content = event.content

    # v8+ R4.2: join_authorised_via_users_server must be signed by that user's server (presence only).
    if rv.restricted_join_rule and AUTHORISING_USER in content:
        authoriser_domain = _domain(content[AUTHORISING_USER]) if _is_valid_user_id(content[AUTHORISING_USER]) else None
        if authoriser_domain is None or not event.signatures.get(authoriser_domain):
            raise AuthError("Event not signed by the authorising user's server")

    sender_membership = _membership_of(sender, auth)
    target_membership = _membership_of(target, auth)

    if membership == "join":
        # R4.3.1: the creator's first join, right after the create event. The creator is
        # content.creator (v1-v10) or the create event's sender (v11+; v12: not additional_creators).
        creator = create.sender if rv.implicit_room_creator else create.content.get("creator")
        prev = event.prev_event_ids
        if len(prev) == 1 and prev[0] == create.event_id and target == creator:
            return
        # R4.3.2: only the user themself joins.
        if sender != target:
            raise AuthError("Cannot force another user to join")
        # R4.3.3: banned users cannot join.
        if sender_membership == "ban":
            raise AuthError(f"{sender} is banned from the room")
        join_rule = _join_rule(auth)
        # R4.3.4 (v1-v6: "invite" only; v7+: "invite" or "knock").
        if join_rule == "invite" or (join_rule == "knock" and rv.knock_join_rule):
            if target_membership in ("invite", "join"):
                return
            raise AuthError(f"{sender} is not invited to this room")
        # v8+ R4.3.5: "restricted" (v10+: also "knock_restricted").
        if (join_rule == "restricted" and rv.restricted_join_rule) or \
                (join_rule == "knock_restricted" and rv.knock_restricted_join_rule):
            if target_membership in ("invite", "join"):  # R4.3.5.1
                return
            authoriser = content.get(AUTHORISING_USER)
            # R4.3.5.2: the authorising user can invite and is joined.
            if not isinstance(authoriser, str) or _membership_of(authoriser, auth) != "join":
                raise AuthError("The authorising user is not joined to the room")
            if get_user_power_level(authoriser, auth, rv) < get_named_level(auth, "invite", 0, rv):
                raise AuthError("The authorising user cannot invite to the room")
            return  # R4.3.5.3
        # R4.3.6: public rooms.
        if join_rule == "public":
            return
        raise AuthError(f"{sender} may not join this room")  # R4.3.7

    if membership == "invite":
        if "third_party_invite" in content:
            # R4.4.1: an invite for a third-party identifier.
            _check_third_party_invite(event, content["third_party_invite"], target_membership, auth)
            return
        # R4.4.2: the sender is joined.
        if sender_membership != "join":
            raise AuthError(f"{sender} is not in the room")
        # R4.4.3: the target is not joined or banned.
        if target_membership in ("join", "ban"):
            raise AuthError(f"{target} is already {'in the room' if target_membership == 'join' else 'banned'}")
        # R4.4.4: the sender has the invite level.
        if get_user_power_level(sender, auth, rv) >= get_named_level(auth, "invite", 0, rv):
            return
        raise AuthError(f"{sender} may not invite (power level too low)")  # R4.4.5

    if membership == "leave":
        # R4.5.1: leaving oneself (rejecting an invite; v7+: rescinding a knock).
        if sender == target:
            allowed = ("invite", "join", "knock") if rv.knock_join_rule else ("invite", "join")
            if sender_membership in allowed:
                return
            raise AuthError(f"{sender} cannot leave a room they are not in")
        # R4.5.2: kicking needs the sender joined.
        if sender_membership != "join":
            raise AuthError(f"{sender} is not in the room")
        sender_level = get_user_power_level(sender, auth, rv)
        # R4.5.3: unbanning needs the ban level.
        if target_membership == "ban" and sender_level < get_named_level(auth, "ban", 50, rv):
            raise AuthError(f"{sender} may not unban (power level too low)")
        # R4.5.4: the kick level and a higher level than the target's.
        if sender_level >= get_named_level(auth, "kick", 50, rv) and \
                get_user_power_level(target, auth, rv) < sender_level:
            return
        raise AuthError(f"{sender} may not kick {target}")  # R4.5.5

    if membership == "ban":
        # R4.6.1: the sender is joined.
        if sender_membership != "join":
            raise AuthError(f"{sender} is not in the room")
        sender_level = get_user_power_level(sender, auth, rv)
        # R4.6.2: the ban level and a higher level than the target's.
        if sender_level >= get_named_level(auth, "ban", 50, rv) and \
                get_user_power_level(target, auth, rv) < sender_level:
            return
        raise AuthError(f"{sender} may not ban {target}")  # R4.6.3

    if membership == "knock" and rv.knock_join_rule:
        # v7+ R4.7.1: the join rule allows knocking (v10+: also knock_restricted).
        join_rule = _join_rule(auth)
        if not (join_rule == "knock" or (join_rule == "knock_restricted" and rv.knock_restricted_join_rule)):
            raise AuthError("This room does not accept knocks")
        # R4.7.2: only the user themself knocks.
        if sender != target:
            raise AuthError("Cannot knock on behalf of another user")
        # R4.7.3: not banned, invited or joined.
        if sender_membership not in ("ban", "invite", "join"):
            return
        raise AuthError(f"{sender} cannot knock: membership is {sender_membership}")  # R4.7.4

    # R4.8 (v1-v6: R4.6 / v1-v5 R5.6): unknown membership (knock before v7 included).
    raise AuthError(f"Unknown membership {content.get('membership')!r}")


def _check_third_party_invite(event: Event, tpi: Any, target_membership: str,
                              auth: Mapping[StateKey, Event]) -> None:
    # R4.4.1.1: the target is not banned.
    if target_membership == "ban":
        raise AuthError(f"{event.state_key} is banned")
    # R4.4.1.2: a `signed` object.
    signed = tpi.get("signed") if isinstance(tpi, dict) else None
    if not isinstance(signed, dict):
        raise AuthError("third_party_invite has no signed property")
    # R4.4.1.3: `signed` has mxid and token.
    mxid, token = signed.get("mxid"), signed.get("token")
    if not isinstance(mxid, str) or not isinstance(token, str):
        raise AuthError("third_party_invite.signed needs mxid and token")
    # R4.4.1.4: mxid is the target.
    if mxid != event.state_key:
        raise AuthError("third_party_invite.signed.mxid is not the invited user")
    # R4.4.1.5: the m.room.third_party_invite for the token is in the room state.
    invite_event = auth.get(("m.room.third_party_invite", token))
    if invite_event is None:
        raise AuthError("No m.room.third_party_invite for this token")
    # R4.4.1.6: the same sender as the m.room.third_party_invite.
    if invite_event.sender != event.sender:
        raise AuthError("The sender did not send the m.room.third_party_invite")
    # R4.4.1.7: a signature of `signed` by one of the invite's public keys.
    if _third_party_signature_matches(signed, invite_event.content):
        return
    raise AuthError("No valid signature on third_party_invite.signed")  # R4.4.1.8


def _third_party_signature_matches(signed: dict, invite_content: dict) -> bool:
    from signedjson.key import decode_verify_key_bytes
    from signedjson.sign import verify_signed_json
    from unpaddedbase64 import decode_base64

    public_keys: list[str] = []
    if isinstance(invite_content.get("public_key"), str):  # R4.4.1.7.1
        public_keys.append(invite_content["public_key"])
    for entry in invite_content.get("public_keys") or []:  # R4.4.1.7.2
        if isinstance(entry, dict) and isinstance(entry.get("public_key"), str):
            public_keys.append(entry["public_key"])
    signatures = signed.get("signatures")
    if not isinstance(signatures, dict):
        return False
    for public_key in public_keys:
        try:
            key_bytes = decode_base64(public_key)
        except Exception:
            continue
        for server, sigs in signatures.items():
            if not isinstance(sigs, dict):
                continue
            for key_name in sigs:
                if not isinstance(key_name, str) or not key_name.startswith("ed25519:"):
                    continue
                try:
                    verify_key = decode_verify_key_bytes(key_name, key_bytes)
                    verify_signed_json(signed, server, verify_key)
                    return True
                except Exception:  # a malformed key or signature, or one that does not verify
                    continue
    return False


def _check_power_levels(event: Event, auth: Mapping[StateKey, Event], create: Event, sender_level,
                        rv: RoomVersion) -> None:
    content = event.content
    if rv.enforce_int_power_levels:
        # v10+ R9.1: the named levels, when present, are integers.
        for name in NAMED_LEVELS:
            if name in content and parse_power_level(content[name], rv) is None:
                raise AuthError(f"Power level {name!r} is not an integer")
        # v10+ R9.2: events and notifications, when present, map to integers.
        for name in ("events", "notifications"):
            if name in content:
                value = content[name]
                if not isinstance(value, dict) or any(parse_power_level(v, rv) is None for v in value.values()):
                    raise AuthError(f"Power levels {name!r} must map to integers")
    else:
        # v1-v9: values may be strings (stringy fragment); v1-v5 also finite floats (floaty fragment: out of
        # range, Infinity and NaN reject the event). A present level that no rule reads as a level rejects.
        for name in NAMED_LEVELS:
            if name in content and parse_power_level(content[name], rv) is None:
                raise AuthError(f"Power level {name!r} is not a valid level")
        for name in ("events", "notifications"):
            value = content.get(name)
            if isinstance(value, dict) and any(parse_power_level(v, rv) is None for v in value.values()):
                raise AuthError(f"Power levels {name!r} holds an invalid level")
    # R9.1 (v10+: R9.3): users maps valid user IDs to integers (v1-v9: or integer strings).
    users = content.get("users", {})
    if not isinstance(users, dict):
        raise AuthError("Power levels 'users' must be an object")
    for user_id, level in users.items():
        if not _is_valid_user_id(user_id):
            raise AuthError(f"Power levels 'users' key {user_id!r} is not a user ID")
        if parse_power_level(level, rv) is None:
            raise AuthError(f"Power level of {user_id} is not an integer")
    # v12 R10.4: the creators are not listed in users.
    if rv.privileged_creators:
        listed = creators(create) & set(users)
        if listed:
            raise AuthError(f"Room creators cannot be given a power level: {sorted(listed)}")

    # R9.2 (v10+: R9.4): the room's first power levels event.
    old_event = auth.get(POWER_LEVELS_KEY)
    if old_event is None:
        return
    old = old_event.content if isinstance(old_event.content, dict) else {}

    def level(value: Any) -> int | None:
        return None if value is None else parse_power_level(value, rv)

    # R9.3 (v10+: R9.5): the named levels added, changed or removed.
    for name in NAMED_LEVELS:
        old_v, new_v = level(old.get(name)), level(content.get(name))
        if old_v == new_v:
            continue
        if old_v is not None and old_v > sender_level:  # R9.3.1
            raise AuthError(f"Cannot change {name!r} from a level above your own")
        if new_v is not None and new_v > sender_level:  # R9.3.2
            raise AuthError(f"Cannot set {name!r} above your own level")

    # R9.4, R9.5 (v10+: R9.6, R9.7): entries of events, and notifications (v6+).
    maps = ("events", "notifications") if rv.limit_notifications_power_levels else ("events",)
    for name in maps:
        _check_level_map_change(name, _as_dict(old.get(name)), _as_dict(content.get(name)), sender_level, rv,
                                own_key=None, strict_old=False)

    # R9.6, R9.7 (v10+: R9.8, R9.9): entries of users.
    _check_level_map_change("users", _as_dict(old.get("users")), users, sender_level, rv,
                            own_key=event.sender, strict_old=True)
    # R9.8 (v10+: R9.10): allow.


def _as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _check_level_map_change(name: str, old: dict, new: dict, sender_level, rv: RoomVersion, *,
                            own_key: str | None, strict_old: bool) -> None:
    for key in set(old) | set(new):
        old_v = parse_power_level(old[key], rv) if key in old else None
        new_v = parse_power_level(new[key], rv) if key in new else None
        if key in old and key in new and old_v == new_v:
            continue
        # Changed or removed: the current value. For users (R9.6) other than the sender's own entry,
        # it must be below the sender's level; for events/notifications (R9.4) not above it.
        if key in old and old_v is not None and key != own_key:
            if (old_v >= sender_level) if strict_old else (old_v > sender_level):
                raise AuthError(f"Cannot change {name}[{key!r}]: its current level is not below yours"
                                if strict_old else f"Cannot change {name}[{key!r}] from a level above your own")
        # Added or changed: the new value is not above the sender's level (R9.5, R9.7).
        if key in new and new_v is not None and new_v > sender_level:
            raise AuthError(f"Cannot set {name}[{key!r}] above your own level")
