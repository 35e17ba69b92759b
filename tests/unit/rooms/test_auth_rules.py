"""apps.rooms.auth_rules: the authorisation rules of room versions 1-12, one or more tests per numbered
rule (numbers as in v6-v11; v1-v5 and v12 are shifted by one where they differ)."""
from __future__ import annotations

import math

import pytest

from apps.core.errors import MatrixError
from apps.rooms.auth_rules import AuthError, auth_types_for_event, check_auth_events_selection, check_auth_rules
from apps.rooms.events import Event
from apps.rooms.room_versions import KNOWN_ROOM_VERSIONS, V1, V2, V5, V6, V9, V10, V11, V12

ALL = list(KNOWN_ROOM_VERSIONS.values())
ids = lambda v: f"v{v.identifier}"  # noqa: E731
CREATOR, ALICE, BOB, CAROL = "@creator:a.test", "@alice:a.test", "@bob:b.test", "@carol:c.test"


def versions(pred=lambda v: True):
    return [v for v in ALL if pred(v)]


class Room:
    """A room's state built event by event; events get IDs without hashing.py."""

    def __init__(self, rv, *, join_rule: str | None = "public", pl: dict | None = None, create_content=None,
                 creator=CREATOR):
        self.rv = rv
        self.n = 0
        self.state: dict[tuple[str, str], Event] = {}
        content = dict(create_content or {})
        if not rv.implicit_room_creator:
            content.setdefault("creator", creator)
        self.create = self.make("m.room.create", creator, content, "", prev=[], room=None)
        self.room_id = self.create.room_id if rv.room_id_from_create_event else "!room:a.test"
        self.add(self.create)
        self.add(self.make("m.room.member", creator, {"membership": "join"}, creator))
        if pl is not None:
            self.add(self.make("m.room.power_levels", creator, pl, ""))
        if join_rule is not None:
            self.add(self.make("m.room.join_rules", creator, {"join_rule": join_rule}, ""))

    def make(self, type_, sender, content, state_key=None, *, prev=None, room="default", event_id=None,
             **extra) -> Event:
        self.n += 1
        pdu = {"type": type_, "sender": sender, "content": content, "depth": self.n,
               "prev_events": prev if prev is not None else ["$prev"], "auth_events": [], **extra}
        if room == "default":
            pdu["room_id"] = self.room_id
        elif room is not None:
            pdu["room_id"] = room
        elif not self.rv.room_id_from_create_event:
            pdu["room_id"] = "!room:a.test"
        if state_key is not None:
            pdu["state_key"] = state_key
        eid = event_id or f"$ev{self.n}:{sender.split(':', 1)[1]}"
        if self.rv.event_format == 1:
            pdu["event_id"] = eid
            if isinstance(pdu["prev_events"], list):
                pdu["prev_events"] = [[p, {}] for p in pdu["prev_events"]]
        e = Event(pdu, self.rv)
        if self.rv.event_format != 1:
            e.__dict__["event_id"] = eid  # the reference hash, once apps/rooms/hashing.py computes it
        return e

    def add(self, event: Event) -> Event:
        self.state[(event.type, event.state_key)] = event
        return event

    def member(self, user, membership, sender=None, **content) -> Event:
        return self.add(self.make("m.room.member", sender or user, {"membership": membership, **content}, user))

    def check(self, event: Event) -> None:
        check_auth_rules(event, self.state)

    def ok(self, type_, sender, content, state_key=None, **kw) -> Event:
        e = self.make(type_, sender, content, state_key, **kw)
        check_auth_rules(e, self.state)
        return e

    def denied(self, type_, sender, content, state_key=None, match=None, **kw) -> AuthError:
        e = self.make(type_, sender, content, state_key, **kw)
        with pytest.raises(AuthError, match=match) as info:
            check_auth_rules(e, self.state)
        return info.value

    def ok_member(self, sender, target, membership, **content):
        return self.ok("m.room.member", sender, {"membership": membership, **content}, target)

    def denied_member(self, sender, target, membership, match=None, **content):
        return self.denied("m.room.member", sender, {"membership": membership, **content}, target, match=match)


def PL(**kw):
    base = {"users": {CREATOR: 100}, "users_default": 0, "events_default": 0, "state_default": 50,
            "ban": 50, "kick": 50, "redact": 50, "invite": 0}
    base.update(kw)
    return base


def PL12(**kw):
    # v12: the creator may not be listed in users.
    p = PL(**kw)
    p["users"] = {u: lvl for u, lvl in p["users"].items() if u != CREATOR}
    return p


def pl_for(rv, **kw):
    return PL12(**kw) if rv.privileged_creators else PL(**kw)


_pl_for = pl_for


# --- AuthError -------------------------------------------------------------------------------------------

def test_auth_error_is_forbidden_403():
    err = AuthError("nope")
    assert isinstance(err, MatrixError)
    assert (err.errcode, err.status, err.error) == ("M_FORBIDDEN", 403, "nope")


# --- auth_types_for_event ---------------------------------------------------------------------------------

@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_auth_types_message(rv):
    room = Room(rv)
    e = room.make("m.room.message", ALICE, {"body": "hi"})
    expected = [("m.room.power_levels", ""), ("m.room.member", ALICE)]
    if not rv.room_id_from_create_event:
        expected.insert(0, ("m.room.create", ""))
    assert auth_types_for_event(e) == expected


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_auth_types_create_is_empty(rv):
    assert auth_types_for_event(Room(rv).create) == []


@pytest.mark.parametrize("membership", ["join", "invite", "knock"])
def test_auth_types_member_with_join_rules(membership):
    e = Room(V10).make("m.room.member", ALICE, {"membership": membership}, BOB)
    assert set(auth_types_for_event(e)) == {("m.room.create", ""), ("m.room.power_levels", ""),
                                            ("m.room.member", ALICE), ("m.room.member", BOB),
                                            ("m.room.join_rules", "")}


@pytest.mark.parametrize("membership", ["leave", "ban"])
def test_auth_types_member_without_join_rules(membership):
    e = Room(V10).make("m.room.member", ALICE, {"membership": membership}, BOB)
    assert ("m.room.join_rules", "") not in auth_types_for_event(e)


def test_auth_types_self_membership_not_duplicated():
    e = Room(V10).make("m.room.member", ALICE, {"membership": "join"}, ALICE)
    types = auth_types_for_event(e)
    assert types.count(("m.room.member", ALICE)) == 1


def test_auth_types_third_party_invite():
    e = Room(V10).make("m.room.member", ALICE, {"membership": "invite", "third_party_invite": {
        "display_name": "b", "signed": {"mxid": BOB, "token": "tok", "signatures": {}}}}, BOB)
    assert ("m.room.third_party_invite", "tok") in auth_types_for_event(e)


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_auth_types_restricted_join_authoriser(rv):
    e = Room(rv).make("m.room.member", BOB, {"membership": "join", "join_authorised_via_users_server": ALICE}, BOB)
    assert (("m.room.member", ALICE) in auth_types_for_event(e)) == rv.restricted_join_rule


def test_auth_types_v12_excludes_create():
    e = Room(V12).make("m.room.member", BOB, {"membership": "join"}, BOB)
    assert ("m.room.create", "") not in auth_types_for_event(e)


# --- check_auth_events_selection (rule 2; v12 rule 3) -----------------------------------------------------

@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_selection_valid(rv):
    room = Room(rv, pl=pl_for(rv))
    e = room.make("m.room.message", CREATOR, {})
    listed = [room.state[k] for k in auth_types_for_event(e) if k in room.state]
    check_auth_events_selection(e, listed)


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_selection_rule_2_1_duplicates(rv):
    room = Room(rv, pl=pl_for(rv))
    e = room.make("m.room.message", CREATOR, {})
    pl2 = room.make("m.room.power_levels", CREATOR, pl_for(rv), "")
    listed = [room.state[k] for k in auth_types_for_event(e) if k in room.state] + [pl2]
    with pytest.raises(AuthError, match="Duplicate"):
        check_auth_events_selection(e, listed)


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_selection_rule_2_2_unexpected_entry(rv):
    room = Room(rv, pl=pl_for(rv))
    e = room.make("m.room.message", CREATOR, {})
    listed = [room.state[k] for k in auth_types_for_event(e) if k in room.state]
    listed.append(room.state[("m.room.join_rules", "")])
    with pytest.raises(AuthError, match="Unexpected"):
        check_auth_events_selection(e, listed)


def test_selection_v12_create_must_not_be_listed():
    room = Room(V12, pl=PL12())
    e = room.make("m.room.message", CREATOR, {})
    listed = [room.state[k] for k in auth_types_for_event(e) if k in room.state]
    check_auth_events_selection(e, listed)
    with pytest.raises(AuthError, match="Unexpected"):
        check_auth_events_selection(e, listed + [room.create])


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_selection_rule_2_3_rejected_entry(rv):
    room = Room(rv, pl=pl_for(rv))
    e = room.make("m.room.message", CREATOR, {})
    listed = [room.state[k] for k in auth_types_for_event(e) if k in room.state]
    room.state[("m.room.power_levels", "")].internal.rejected_reason = "auth"
    with pytest.raises(AuthError, match="rejected"):
        check_auth_events_selection(e, listed)


@pytest.mark.parametrize("rv", versions(lambda v: not v.room_id_from_create_event), ids=ids)
def test_selection_rule_2_4_create_required(rv):
    room = Room(rv, pl=pl_for(rv))
    e = room.make("m.room.message", CREATOR, {})
    listed = [room.state[k] for k in auth_types_for_event(e) if k in room.state and k[0] != "m.room.create"]
    with pytest.raises(AuthError, match="create"):
        check_auth_events_selection(e, listed)


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_selection_rule_2_5_other_room(rv):
    room = Room(rv, pl=pl_for(rv))
    e = room.make("m.room.message", CREATOR, {})
    other = room.make("m.room.power_levels", CREATOR, pl_for(rv), "", room="!other:a.test")
    listed = [room.state[k] for k in auth_types_for_event(e) if k in room.state and k[0] != "m.room.power_levels"]
    with pytest.raises(AuthError, match="another room"):
        check_auth_events_selection(e, listed + [other])


# --- rule 1: m.room.create ---------------------------------------------------------------------------------

@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_rule_1_create_allowed(rv):
    check_auth_rules(Room(rv).create, {})


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_rule_1_1_create_with_prev_events(rv):
    room = Room(rv)
    content = {} if rv.implicit_room_creator else {"creator": CREATOR}
    e = room.make("m.room.create", CREATOR, content, "", prev=["$x:a.test"], room=None)
    with pytest.raises(AuthError, match="prev_events"):
        check_auth_rules(e, {})


@pytest.mark.parametrize("rv", versions(lambda v: not v.room_id_from_create_event), ids=ids)
def test_rule_1_2_room_id_domain_must_match_sender(rv):
    room = Room(rv)
    content = {} if rv.implicit_room_creator else {"creator": CREATOR}
    e = room.make("m.room.create", CREATOR, content, "", prev=[], room="!room:b.test")
    with pytest.raises(AuthError, match="server"):
        check_auth_rules(e, {})


def test_rule_1_2_v12_create_must_not_have_room_id():
    room = Room(V12)
    e = room.make("m.room.create", CREATOR, {}, "", prev=[], room="!room:a.test")
    with pytest.raises(AuthError, match="room_id"):
        check_auth_rules(e, {})


@pytest.mark.parametrize("rv", ALL, ids=ids)
@pytest.mark.parametrize("room_version, allowed", [("1", True), ("12", True), ("99", False), (12, False)])
def test_rule_1_3_room_version_must_be_known(rv, room_version, allowed):
    room = Room(rv)
    content = {"room_version": room_version}
    if not rv.implicit_room_creator:
        content["creator"] = CREATOR
    e = room.make("m.room.create", CREATOR, content, "", prev=[], room=None)
    if allowed:
        check_auth_rules(e, {})
    else:
        with pytest.raises(AuthError, match="room version"):
            check_auth_rules(e, {})


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_rule_1_4_creator_required_until_v10(rv):
    room = Room(rv)
    e = room.make("m.room.create", CREATOR, {}, "", prev=[], room=None)
    if rv.implicit_room_creator:
        check_auth_rules(e, {})
    else:
        with pytest.raises(AuthError, match="creator"):
            check_auth_rules(e, {})


@pytest.mark.parametrize("extra, allowed", [
    ([ALICE, BOB], True), ([], True), ("@alice:a.test", False), ([ALICE, 5], False), (["alice"], False),
    (["@:a.test"], False),
])
def test_rule_1_4_v12_additional_creators(extra, allowed):
    room = Room(V12)
    e = room.make("m.room.create", CREATOR, {"additional_creators": extra}, "", prev=[], room=None)
    if allowed:
        check_auth_rules(e, {})
    else:
        with pytest.raises(AuthError, match="additional_creators"):
            check_auth_rules(e, {})


def test_additional_creators_ignored_before_v12():
    room = Room(V11)
    check_auth_rules(room.make("m.room.create", CREATOR, {"additional_creators": "junk"}, "", prev=[], room=None), {})


# --- rule 2 (v12: 2 and 3) on the auth events mapping --------------------------------------------------------

@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_rule_2_4_no_create_event(rv):
    room = Room(rv)
    del room.state[("m.room.create", "")]
    room.denied("m.room.message", CREATOR, {}, match="create")


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_rule_2_3_rejected_auth_event(rv):
    room = Room(rv)
    room.state[("m.room.member", CREATOR)].internal.rejected_reason = "auth"
    room.denied("m.room.message", CREATOR, {}, match="rejected")


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_rule_2_5_auth_event_from_other_room(rv):
    room = Room(rv)
    room.add(room.make("m.room.member", CREATOR, {"membership": "join"}, CREATOR, room="!other:a.test"))
    room.denied("m.room.message", CREATOR, {}, match="another room")


def test_v12_rule_2_room_id_must_name_the_create_event():
    room = Room(V12)
    room.denied("m.room.message", CREATOR, {}, room="!somethingelse", match="create event")
    room.create.internal.rejected_reason = "bad"
    room.denied("m.room.message", CREATOR, {}, match="rejected")


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_unrelated_state_entries_are_ignored(rv):
    room = Room(rv)
    room.add(room.make("m.room.topic", CREATOR, {"topic": "x"}, "", room="!other:a.test"))
    room.ok("m.room.message", CREATOR, {})


# --- rule 3: m.federate ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_rule_3_federate_false_keeps_other_servers_out(rv):
    room = Room(rv, create_content={"m.federate": False})
    room.denied_member(BOB, BOB, "join", match="federate")
    room.ok_member(ALICE, ALICE, "join")


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_rule_3_federate_true_or_absent(rv):
    Room(rv, create_content={"m.federate": True}).ok_member(BOB, BOB, "join")
    Room(rv).ok_member(BOB, BOB, "join")


# --- v1-v5 rule 4: m.room.aliases --------------------------------------------------------------------------

@pytest.mark.parametrize("rv", versions(lambda v: v.special_case_aliases_auth), ids=ids)
def test_v1_v5_aliases_by_state_key_server(rv):
    room = Room(rv, pl=PL(events={"m.room.aliases": 100}))
    # Not even a member: the aliases rule allows before the membership and power level rules.
    room.ok("m.room.aliases", BOB, {"aliases": ["#x:b.test"]}, "b.test")
    room.denied("m.room.aliases", BOB, {"aliases": []}, "a.test", match="server")
    room.denied("m.room.aliases", BOB, {"aliases": []}, None, match="state_key")


@pytest.mark.parametrize("rv", versions(lambda v: not v.special_case_aliases_auth), ids=ids)
def test_v6_plus_aliases_are_ordinary_state(rv):
    room = Room(rv, pl=pl_for(rv))
    room.denied("m.room.aliases", BOB, {"aliases": []}, "b.test", match="not in the room")
    room.member(BOB, "join")
    room.denied("m.room.aliases", BOB, {"aliases": []}, "b.test", match="power level")
    room.ok("m.room.aliases", CREATOR, {"aliases": []}, "a.test")


# --- rule 4.1: member event shape --------------------------------------------------------------------------

@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_rule_4_1_member_needs_state_key_and_membership(rv):
    room = Room(rv)
    room.denied("m.room.member", BOB, {"membership": "join"}, None, match="state_key")
    room.denied("m.room.member", BOB, {}, BOB, match="membership")


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_rule_4_8_unknown_membership(rv):
    room = Room(rv)
    room.denied_member(BOB, BOB, "dance", match="Unknown membership")
    room.denied("m.room.member", BOB, {"membership": 5}, BOB, match="Unknown membership")


# --- rule 4.2 (v8+): join_authorised_via_users_server signature -------------------------------------------------

@pytest.mark.parametrize("rv", versions(lambda v: v.restricted_join_rule), ids=ids)
def test_rule_4_2_authoriser_server_must_have_signed(rv):
    room = Room(rv, join_rule="public")
    content = {"membership": "join", "join_authorised_via_users_server": ALICE}
    e = room.make("m.room.member", BOB, content, BOB)
    with pytest.raises(AuthError, match="signed"):
        room.check(e)
    e = room.make("m.room.member", BOB, content, BOB, signatures={"a.test": {"ed25519:k": "sig"}})
    room.check(e)


@pytest.mark.parametrize("rv", versions(lambda v: not v.restricted_join_rule), ids=ids)
def test_rule_4_2_not_before_v8(rv):
    Room(rv).ok_member(BOB, BOB, "join", join_authorised_via_users_server=ALICE)


# --- rule 4.3: join -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_rule_4_3_1_creator_first_join(rv):
    room = Room(rv, join_rule=None)
    del room.state[("m.room.member", CREATOR)]
    create_id = room.create.event_id
    room.ok("m.room.member", CREATOR, {"membership": "join"}, CREATOR, prev=[create_id])
    # Not right after the create event: the ordinary rules (no join rules: invite only).
    room.denied("m.room.member", CREATOR, {"membership": "join"}, CREATOR, prev=["$other:a.test"], match="invited")
    # Somebody else right after the create event.
    room.denied("m.room.member", BOB, {"membership": "join"}, BOB, prev=[create_id], match="invited")


def test_rule_4_3_1_v11_creator_is_create_sender():
    # v1-v10 read content.creator; v11+ the create event's sender.
    room = Room(V10, join_rule=None, create_content={"creator": ALICE})
    room.ok("m.room.member", ALICE, {"membership": "join"}, ALICE, prev=[room.create.event_id])
    room = Room(V11, join_rule=None, create_content={"creator": ALICE})
    room.denied("m.room.member", ALICE, {"membership": "join"}, ALICE, prev=[room.create.event_id])
    room.ok("m.room.member", CREATOR, {"membership": "join"}, CREATOR, prev=[room.create.event_id])


def test_rule_4_3_1_v12_additional_creator_is_not_the_first_joiner():
    room = Room(V12, join_rule=None, create_content={"additional_creators": [ALICE]})
    room.denied("m.room.member", ALICE, {"membership": "join"}, ALICE, prev=[room.create.event_id])


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_rule_4_3_2_cannot_join_someone_else(rv):
    Room(rv).denied_member(CREATOR, BOB, "join", match="another user")


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_rule_4_3_3_banned_cannot_join(rv):
    room = Room(rv, join_rule="public")
    room.member(BOB, "ban", sender=CREATOR)
    room.denied_member(BOB, BOB, "join", match="banned")


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_rule_4_3_4_invite_only(rv):
    room = Room(rv, join_rule="invite")
    room.denied_member(BOB, BOB, "join", match="not invited")
    room.member(BOB, "invite", sender=CREATOR)
    room.ok_member(BOB, BOB, "join")
    room.member(BOB, "join")
    room.ok_member(BOB, BOB, "join")  # profile change


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_rule_4_3_4_knock_join_rule_v7_plus(rv):
    room = Room(rv, join_rule="knock")
    room.denied_member(BOB, BOB, "join")
    room.member(BOB, "invite", sender=CREATOR)
    if rv.knock_join_rule:
        room.ok_member(BOB, BOB, "join")
    else:
        # "knock" is no join rule before v7: not public, so nobody joins.
        room.denied_member(BOB, BOB, "join")


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_rule_4_3_4_no_join_rules_event_is_invite_only(rv):
    room = Room(rv, join_rule=None)
    room.denied_member(BOB, BOB, "join")
    room.member(BOB, "invite", sender=CREATOR)
    room.ok_member(BOB, BOB, "join")


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_rule_4_3_6_public(rv):
    Room(rv, join_rule="public").ok_member(BOB, BOB, "join")


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_rule_4_3_7_other_join_rules(rv):
    Room(rv, join_rule="private").denied_member(BOB, BOB, "join")


def _restricted_room(rv, join_rule, alice_level=0, invite=0, alice_membership="join"):
    pl = pl_for(rv, invite=invite, users={CREATOR: 100, ALICE: alice_level})
    room = Room(rv, join_rule=join_rule, pl=pl)
    room.member(ALICE, alice_membership)
    return room


def _authorised_join(room, authoriser=ALICE):
    content = {"membership": "join", "join_authorised_via_users_server": authoriser}
    return room.make("m.room.member", BOB, content, BOB, signatures={authoriser.split(":")[1]: {"ed25519:k": "s"}})


@pytest.mark.parametrize("rv", ALL, ids=ids)
@pytest.mark.parametrize("join_rule", ["restricted", "knock_restricted"])
def test_rule_4_3_5_restricted_join(rv, join_rule):
    supported = rv.restricted_join_rule if join_rule == "restricted" else rv.knock_restricted_join_rule
    room = _restricted_room(rv, join_rule, alice_level=10, invite=5)
    if supported:
        room.check(_authorised_join(room))  # R4.3.5.3
    else:
        with pytest.raises(AuthError):
            room.check(_authorised_join(room))


@pytest.mark.parametrize("rv", versions(lambda v: v.knock_restricted_join_rule), ids=ids)
@pytest.mark.parametrize("join_rule", ["restricted", "knock_restricted"])
def test_rule_4_3_5_1_invited_or_joined_need_no_authoriser(rv, join_rule):
    room = _restricted_room(rv, join_rule)
    room.denied_member(BOB, BOB, "join", match="authorising")
    room.member(BOB, "invite", sender=CREATOR)
    room.ok_member(BOB, BOB, "join")


@pytest.mark.parametrize("rv", versions(lambda v: v.restricted_join_rule), ids=ids)
def test_rule_4_3_5_2_authoriser_needs_invite_level(rv):
    room = _restricted_room(rv, "restricted", alice_level=10, invite=50)
    with pytest.raises(AuthError, match="cannot invite"):
        room.check(_authorised_join(room))


@pytest.mark.parametrize("rv", versions(lambda v: v.restricted_join_rule), ids=ids)
def test_rule_4_3_5_2_authoriser_must_be_joined(rv):
    room = _restricted_room(rv, "restricted", alice_level=100, alice_membership="leave")
    with pytest.raises(AuthError, match="not joined"):
        room.check(_authorised_join(room))
    room = _restricted_room(rv, "restricted")
    with pytest.raises(AuthError, match="not joined"):
        room.check(_authorised_join(room, authoriser=CAROL))


@pytest.mark.parametrize("rv", versions(lambda v: v.restricted_join_rule), ids=ids)
def test_rule_4_3_5_banned_cannot_join_restricted(rv):
    room = _restricted_room(rv, "restricted", alice_level=100)
    room.member(BOB, "ban", sender=CREATOR)
    with pytest.raises(AuthError, match="banned"):
        room.check(_authorised_join(room))


def test_v12_creator_authorises_restricted_join():
    room = Room(V12, join_rule="restricted", pl=PL12(invite=1000))
    room.check(_authorised_join(room, authoriser=CREATOR))


# --- rule 4.4: invite -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_rule_4_4_2_sender_must_be_joined(rv):
    room = Room(rv, pl=pl_for(rv))
    room.denied_member(ALICE, BOB, "invite", match="not in the room")


@pytest.mark.parametrize("rv", ALL, ids=ids)
@pytest.mark.parametrize("target_membership", ["join", "ban"])
def test_rule_4_4_3_target_joined_or_banned(rv, target_membership):
    room = Room(rv, pl=pl_for(rv))
    room.member(BOB, target_membership, sender=BOB if target_membership == "join" else CREATOR)
    room.denied_member(CREATOR, BOB, "invite")


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_rule_4_4_4_invite_requires_power_level(rv):
    room = Room(rv, pl=pl_for(rv, invite=50, users={CREATOR: 100, ALICE: 49, CAROL: 50}))
    room.member(ALICE, "join")
    room.member(CAROL, "join")
    room.denied_member(ALICE, BOB, "invite", match="power level")
    room.ok_member(CAROL, BOB, "invite")


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_invite_default_level_zero(rv):
    room = Room(rv)
    room.member(ALICE, "join")
    room.ok_member(ALICE, BOB, "invite")  # no power levels: invite level 0


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_reinvite_and_invite_after_leave(rv):
    room = Room(rv)
    room.member(BOB, "invite", sender=CREATOR)
    room.ok_member(CREATOR, BOB, "invite")
    room.member(BOB, "leave")
    room.ok_member(CREATOR, BOB, "invite")


# --- rule 4.4.1: third-party invites -----------------------------------------------------------------------

def _tpi_room(rv, public_key_field="public_key"):
    from signedjson.key import generate_signing_key, get_verify_key
    from unpaddedbase64 import encode_base64

    key = generate_signing_key("0")
    pub = encode_base64(get_verify_key(key).encode())
    room = Room(rv)
    content = {"display_name": "b...", "key_validity_url": "https://id.test/isvalid"}
    if public_key_field == "public_key":
        content["public_key"] = pub
    else:
        content["public_keys"] = [{"public_key": "bm90YWtleQ"}, {"public_key": pub}]
    room.add(room.make("m.room.third_party_invite", CREATOR, content, "tok"))
    return room, key


def _tpi_content(key, mxid=BOB, token="tok", sign=True, **tamper):
    from signedjson.sign import sign_json

    signed = {"mxid": mxid, "token": token, "sender": CREATOR}
    if sign:
        signed = sign_json(signed, "id.test", key)
    signed.update(tamper)
    return {"membership": "invite", "third_party_invite": {"display_name": "b...", "signed": signed}}


@pytest.mark.parametrize("rv", ALL, ids=ids)
@pytest.mark.parametrize("field", ["public_key", "public_keys"])
def test_rule_4_4_1_7_valid_third_party_invite(rv, field):
    room, key = _tpi_room(rv, field)
    room.ok("m.room.member", CREATOR, _tpi_content(key), BOB)


@pytest.mark.parametrize("rv", [V1, V6, V12], ids=ids)
def test_rule_4_4_1_third_party_invite_failures(rv):
    from signedjson.key import generate_signing_key

    room, key = _tpi_room(rv)
    m = "m.room.member"
    # R4.4.1.2: no signed
    room.denied(m, CREATOR, {"membership": "invite", "third_party_invite": {}}, BOB, match="signed")
    # R4.4.1.3: no mxid/token
    room.denied(m, CREATOR, {"membership": "invite", "third_party_invite": {"signed": {"mxid": BOB}}}, BOB,
                match="mxid and token")
    # R4.4.1.4: mxid is not the target
    room.denied(m, CREATOR, _tpi_content(key, mxid=CAROL), BOB, match="mxid")
    # R4.4.1.5: no m.room.third_party_invite for the token
    room.denied(m, CREATOR, _tpi_content(key, token="other"), BOB, match="token")
    # R4.4.1.6: sender is not the m.room.third_party_invite's sender
    room.member(ALICE, "join")
    room.denied(m, ALICE, _tpi_content(key), BOB, match="did not send")
    # R4.4.1.8: signature by another key / tampered / unsigned
    room.denied(m, CREATOR, _tpi_content(generate_signing_key("0")), BOB, match="signature")
    room.denied(m, CREATOR, _tpi_content(key, sender=ALICE), BOB, match="signature")
    room.denied(m, CREATOR, _tpi_content(key, sign=False), BOB, match="signature")
    # R4.4.1.1: banned target
    room.member(BOB, "ban", sender=CREATOR)
    room.denied(m, CREATOR, _tpi_content(key), BOB, match="banned")


# --- rule 4.5: leave ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("rv", ALL, ids=ids)
@pytest.mark.parametrize("membership, allowed", [("join", True), ("invite", True), ("leave", False), ("ban", False)])
def test_rule_4_5_1_leave_self(rv, membership, allowed):
    room = Room(rv)
    if membership != "leave":
        room.member(BOB, membership, sender=CREATOR if membership != "join" else BOB)
    if allowed:
        room.ok_member(BOB, BOB, "leave")
    else:
        room.denied_member(BOB, BOB, "leave")


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_rule_4_5_1_rescind_knock_v7_plus(rv):
    room = Room(rv, join_rule="knock")
    room.member(BOB, "knock")
    if rv.knock_join_rule:
        room.ok_member(BOB, BOB, "leave")
    else:
        room.denied_member(BOB, BOB, "leave")


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_rule_4_5_2_kicker_must_be_joined(rv):
    room = Room(rv, pl=pl_for(rv, users={CREATOR: 100, ALICE: 100}))
    room.member(BOB, "join")
    room.denied_member(ALICE, BOB, "leave", match="not in the room")


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_rule_4_5_3_unban_needs_ban_level(rv):
    room = Room(rv, pl=pl_for(rv, kick=10, ban=60, users={CREATOR: 100, ALICE: 50, CAROL: 60}))
    room.member(ALICE, "join")
    room.member(CAROL, "join")
    room.member(BOB, "ban", sender=CREATOR)
    room.denied_member(ALICE, BOB, "leave", match="unban")
    room.ok_member(CAROL, BOB, "leave")


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_unban_also_needs_kick_level(rv):
    room = Room(rv, pl=pl_for(rv, kick=70, ban=60, users={CREATOR: 100, CAROL: 60}))
    room.member(CAROL, "join")
    room.member(BOB, "ban", sender=CREATOR)
    room.denied_member(CAROL, BOB, "leave", match="kick")


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_rule_4_5_4_kick_needs_kick_level_and_higher_than_target(rv):
    room = Room(rv, pl=pl_for(rv, kick=50, users={CREATOR: 100, ALICE: 50, BOB: 50, CAROL: 40}))
    for u in (ALICE, BOB, CAROL):
        room.member(u, "join")
    room.ok_member(ALICE, CAROL, "leave")
    room.denied_member(ALICE, BOB, "leave", match="kick")  # equal level
    room.denied_member(CAROL, ALICE, "leave", match="kick")  # below kick level
    room.ok_member(CREATOR, ALICE, "leave")


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_kick_of_invited_and_absent_users(rv):
    room = Room(rv, pl=pl_for(rv))
    room.member(BOB, "invite", sender=CREATOR)
    room.ok_member(CREATOR, BOB, "leave")  # revoke invite
    room.ok_member(CREATOR, CAROL, "leave")  # not in the room at all: level 0 < 100


# --- rule 4.6: ban ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_rule_4_6_1_banner_must_be_joined(rv):
    room = Room(rv, pl=pl_for(rv, users={CREATOR: 100, ALICE: 100}))
    room.denied_member(ALICE, BOB, "ban", match="not in the room")


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_rule_4_6_2_ban_needs_ban_level_and_higher_than_target(rv):
    room = Room(rv, pl=pl_for(rv, ban=50, users={CREATOR: 100, ALICE: 50, BOB: 50, CAROL: 40}))
    for u in (ALICE, BOB, CAROL):
        room.member(u, "join")
    room.ok_member(ALICE, CAROL, "ban")
    room.denied_member(ALICE, BOB, "ban", match="ban")
    room.denied_member(CAROL, "@dave:d.test", "ban", match="ban")
    room.ok_member(ALICE, "@dave:d.test", "ban")  # pre-emptive ban of a non-member
    room.denied_member(ALICE, ALICE, "ban")  # not below own level


# --- rule 4.7: knock ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_rule_4_7_knock_only_v7_plus(rv):
    room = Room(rv, join_rule="knock")
    if rv.knock_join_rule:
        room.ok_member(BOB, BOB, "knock")
    else:
        room.denied_member(BOB, BOB, "knock", match="Unknown membership")


@pytest.mark.parametrize("rv", versions(lambda v: v.knock_join_rule), ids=ids)
def test_rule_4_7_1_join_rule_must_allow_knocks(rv):
    Room(rv, join_rule="public").denied_member(BOB, BOB, "knock", match="knock")
    Room(rv, join_rule="invite").denied_member(BOB, BOB, "knock", match="knock")
    room = Room(rv, join_rule="knock_restricted")
    if rv.knock_restricted_join_rule:
        room.ok_member(BOB, BOB, "knock")
    else:
        room.denied_member(BOB, BOB, "knock", match="knock")


@pytest.mark.parametrize("rv", versions(lambda v: v.knock_join_rule), ids=ids)
def test_rule_4_7_2_knock_for_oneself(rv):
    Room(rv, join_rule="knock").denied_member(CREATOR, BOB, "knock", match="behalf")


@pytest.mark.parametrize("rv", versions(lambda v: v.knock_join_rule), ids=ids)
@pytest.mark.parametrize("membership, allowed", [("ban", False), ("invite", False), ("join", False),
                                                 ("leave", True), ("knock", True)])
def test_rule_4_7_3_knock_membership(rv, membership, allowed):
    room = Room(rv, join_rule="knock")
    room.member(BOB, membership, sender=BOB if membership in ("join", "leave", "knock") else CREATOR)
    if allowed:
        room.ok_member(BOB, BOB, "knock")
    else:
        room.denied_member(BOB, BOB, "knock")


# --- rule 5: the sender is joined ------------------------------------------------------------------------------

@pytest.mark.parametrize("rv", ALL, ids=ids)
@pytest.mark.parametrize("membership", [None, "invite", "leave", "ban", "knock"])
def test_rule_5_non_member_cannot_send(rv, membership):
    room = Room(rv)
    if membership:
        room.member(BOB, membership, sender=CREATOR if membership in ("invite", "ban") else BOB)
    room.denied("m.room.message", BOB, {"body": "hi"}, match="not in the room")
    room.member(BOB, "join")
    room.ok("m.room.message", BOB, {"body": "hi"})


# --- rule 6: m.room.third_party_invite -------------------------------------------------------------------------

@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_rule_6_third_party_invite_needs_invite_level(rv):
    room = Room(rv, pl=pl_for(rv, invite=20, events={"m.room.third_party_invite": 100},
                              users={CREATOR: 100, ALICE: 20, BOB: 19}))
    room.member(ALICE, "join")
    room.member(BOB, "join")
    # The invite level governs, not the events entry (rule 6 allows before rule 7).
    room.ok("m.room.third_party_invite", ALICE, {"display_name": "x"}, "tok")
    room.denied("m.room.third_party_invite", BOB, {"display_name": "x"}, "tok", match="invite")


# --- rule 7: required power level ---------------------------------------------------------------------------------

@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_rule_7_required_power_level(rv):
    room = Room(rv, pl=pl_for(rv, events={"m.room.name": 30, "m.special": 10}, events_default=5, state_default=40,
                              users={CREATOR: 100, ALICE: 30, BOB: 5}))
    room.member(ALICE, "join")
    room.member(BOB, "join")
    room.ok("m.room.name", ALICE, {"name": "n"}, "")
    room.denied("m.room.name", BOB, {"name": "n"}, "", match="power level 30")
    room.denied("m.room.topic", ALICE, {"topic": "t"}, "", match="power level 40")
    room.ok("m.room.message", BOB, {})
    room.denied("m.special", BOB, {}, match="power level 10")
    room.member(CAROL, "join")
    room.denied("m.room.message", CAROL, {}, match="power level 5")


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_rule_7_without_power_levels(rv):
    room = Room(rv)
    room.member(BOB, "join")
    room.ok("m.room.message", BOB, {})
    room.denied("m.room.topic", BOB, {"topic": "t"}, "", match="power level 50")
    room.ok("m.room.topic", CREATOR, {"topic": "t"}, "")


def test_rule_7_stringy_requirement_v1_to_v9():
    room = Room(V9, pl=PL(events={"m.room.name": "30"}, users={CREATOR: 100, ALICE: "29"}))
    room.member(ALICE, "join")
    room.denied("m.room.name", ALICE, {"name": "n"}, "", match="power level 30")


# --- rule 8: state keys naming users ------------------------------------------------------------------------------

@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_rule_8_user_id_state_key_must_be_sender(rv):
    room = Room(rv, pl=pl_for(rv, state_default=0))
    room.member(ALICE, "join")
    room.ok("m.custom.state", ALICE, {}, ALICE)
    room.denied("m.custom.state", ALICE, {}, BOB, match="user ID")
    room.denied("m.custom.state", CREATOR, {}, BOB, match="user ID")  # even for the most powerful user
    room.ok("m.custom.state", ALICE, {}, "not@user")


# --- rule 9: m.room.power_levels -----------------------------------------------------------------------------------

@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_rule_9_2_first_power_levels(rv):
    room = Room(rv)
    room.ok("m.room.power_levels", CREATOR, pl_for(rv, users={CREATOR: 100, BOB: 100} if not rv.privileged_creators
                                                    else {BOB: 100}), "")
    room.member(ALICE, "join")
    room.denied("m.room.power_levels", ALICE, pl_for(rv), "", match="power level 50")


@pytest.mark.parametrize("rv", ALL, ids=ids)
@pytest.mark.parametrize("users", [{"not-a-user": 5}, {"@bob": 5}, {BOB: "high"}, {BOB: None}, {BOB: True}, [BOB]])
def test_rule_9_1_users_must_map_user_ids_to_levels(rv, users):
    room = Room(rv)
    content = pl_for(rv)
    content["users"] = users
    room.denied("m.room.power_levels", CREATOR, content, "")


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_stringy_power_levels_v1_to_v9_rejected_v10_plus(rv):
    room = Room(rv)
    content = pl_for(rv, ban="50", kick="050", events={"m.room.name": " 60 "})
    content["users"][BOB] = "+40"
    if rv.enforce_int_power_levels:
        room.denied("m.room.power_levels", CREATOR, content, "", match="integer")
    else:
        room.ok("m.room.power_levels", CREATOR, content, "")


@pytest.mark.parametrize("rv", versions(lambda v: v.enforce_int_power_levels), ids=ids)
@pytest.mark.parametrize("content", [
    {"ban": "50"}, {"users_default": 0.5}, {"invite": None}, {"state_default": True}, {"events": []},
    {"events": {"m.room.name": "50"}}, {"notifications": {"room": "50"}}, {"notifications": 5},
    {"users": {BOB: "10"}},
])
def test_v10_rule_9_1_9_2_integers_only(rv, content):
    Room(rv).denied("m.room.power_levels", CREATOR, content, "", match="integer|object")


@pytest.mark.parametrize("rv", [V1, V5], ids=ids)
def test_floaty_power_levels_v1_to_v5(rv):
    room = Room(rv)
    content = PL(ban=50.7)
    content["users"][BOB] = 50.57
    room.ok("m.room.power_levels", CREATOR, content, "")
    content = PL(ban=math.inf)
    room.denied("m.room.power_levels", CREATOR, content, "")
    content = PL()
    content["users"][BOB] = math.nan
    room.denied("m.room.power_levels", CREATOR, content, "")


@pytest.mark.parametrize("rv", [V6, V9], ids=ids)
def test_floats_rejected_v6_plus(rv):
    content = PL()
    content["users"][BOB] = 50.5
    Room(rv).denied("m.room.power_levels", CREATOR, content, "")


@pytest.mark.parametrize("rv", ALL, ids=ids)
@pytest.mark.parametrize("name", ["users_default", "events_default", "state_default", "ban", "redact", "kick",
                                  "invite"])
def test_rule_9_3_named_levels(rv, name):
    users = {CREATOR: 100, ALICE: 60}
    pl_for = lambda rv, **kw: _pl_for(rv, events={"m.room.power_levels": 0}, **kw)  # noqa: E731
    room = Room(rv, pl=pl_for(rv, users=users, **{name: 70}))
    room.member(ALICE, "join")
    # R9.3.1: current value above the sender's level cannot be changed or removed.
    room.denied("m.room.power_levels", ALICE, pl_for(rv, users=users, **{name: 10}), "", match=name)
    removed = pl_for(rv, users=users)
    del removed[name]
    room.denied("m.room.power_levels", ALICE, removed, "", match=name)
    # R9.3.2: new value above the sender's level.
    room = Room(rv, pl=pl_for(rv, users=users, **{name: 10}))
    room.member(ALICE, "join")
    room.denied("m.room.power_levels", ALICE, pl_for(rv, users=users, **{name: 61}), "", match=name)
    room.ok("m.room.power_levels", ALICE, pl_for(rv, users=users, **{name: 60}), "")
    added = pl_for(rv, users=users)
    del added[name]
    room = Room(rv, pl=added)
    room.member(ALICE, "join")
    room.denied("m.room.power_levels", ALICE, pl_for(rv, users=users, **{name: 61}), "", match=name)


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_unchanged_high_levels_do_not_block_other_changes(rv):
    users = {CREATOR: 100, ALICE: 60}
    room = Room(rv, pl=pl_for(rv, users=users, ban=100, events={"m.room.tombstone": 100}))
    room.member(ALICE, "join")
    room.ok("m.room.power_levels", ALICE, pl_for(rv, users=users, ban=100, events={"m.room.tombstone": 100},
                                                 invite=10), "")


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_rule_9_4_9_5_events(rv):
    users = {CREATOR: 100, ALICE: 60}
    room = Room(rv, pl=pl_for(rv, users=users, events={"m.high": 70, "m.low": 10}))
    room.member(ALICE, "join")
    new = lambda ev: pl_for(rv, users=users, events=ev)  # noqa: E731
    room.denied("m.room.power_levels", ALICE, new({"m.high": 10, "m.low": 10}), "", match="m.high")  # changed
    room.denied("m.room.power_levels", ALICE, new({"m.low": 10}), "", match="m.high")  # removed
    room.denied("m.room.power_levels", ALICE, new({"m.high": 70, "m.low": 61}), "", match="m.low")  # raised
    room.denied("m.room.power_levels", ALICE, new({"m.high": 70, "m.low": 10, "m.new": 61}), "", match="m.new")
    room.ok("m.room.power_levels", ALICE, new({"m.high": 70, "m.low": 60, "m.new": 60}), "")
    room.ok("m.room.power_levels", ALICE, new({"m.high": 70}), "")  # remove m.low


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_rule_9_4_9_5_notifications_v6_plus(rv):
    users = {CREATOR: 100, ALICE: 60}
    room = Room(rv, pl=pl_for(rv, users=users, notifications={"room": 70}))
    room.member(ALICE, "join")
    lowering = pl_for(rv, users=users, notifications={"room": 0})
    raising = pl_for(rv, users=users, notifications={"room": 70, "other": 99})
    if rv.limit_notifications_power_levels:
        room.denied("m.room.power_levels", ALICE, lowering, "", match="notifications")
        room.denied("m.room.power_levels", ALICE, raising, "", match="notifications")
    else:
        room.ok("m.room.power_levels", ALICE, lowering, "")
        room.ok("m.room.power_levels", ALICE, raising, "")


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_rule_9_6_cannot_change_user_at_or_above_own_level(rv):
    room = Room(rv, pl=pl_for(rv, users={CREATOR: 100, ALICE: 50, BOB: 50, CAROL: 40}))
    room.member(ALICE, "join")
    room.denied("m.room.power_levels", ALICE, pl_for(rv, users={CREATOR: 100, ALICE: 50, BOB: 0, CAROL: 40}), "",
                match="not below")
    room.denied("m.room.power_levels", ALICE, pl_for(rv, users={CREATOR: 100, ALICE: 50, CAROL: 40}), "",
                match="not below")  # removing an equal
    room.ok("m.room.power_levels", ALICE, pl_for(rv, users={CREATOR: 100, ALICE: 50, BOB: 50, CAROL: 50}), "")
    room.ok("m.room.power_levels", ALICE, pl_for(rv, users={CREATOR: 100, ALICE: 50, BOB: 50}), "")


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_rule_9_6_own_entry_may_be_lowered(rv):
    room = Room(rv, pl=pl_for(rv, users={CREATOR: 100, ALICE: 50}))
    room.member(ALICE, "join")
    room.ok("m.room.power_levels", ALICE, pl_for(rv, users={CREATOR: 100, ALICE: 10}), "")
    room.ok("m.room.power_levels", ALICE, pl_for(rv, users={CREATOR: 100}), "")


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_rule_9_7_cannot_raise_own_or_others_above_own_level(rv):
    room = Room(rv, pl=pl_for(rv, users={CREATOR: 100, ALICE: 50}))
    room.member(ALICE, "join")
    room.denied("m.room.power_levels", ALICE, pl_for(rv, users={CREATOR: 100, ALICE: 51}), "", match="above")
    room.denied("m.room.power_levels", ALICE, pl_for(rv, users={CREATOR: 100, ALICE: 50, BOB: 51}), "",
                match="above")
    room.ok("m.room.power_levels", ALICE, pl_for(rv, users={CREATOR: 100, ALICE: 50, BOB: 50}), "")


def test_stringy_values_compare_as_numbers_v1():
    room = Room(V1, pl=PL(users={CREATOR: 100, ALICE: "50", BOB: 10}))
    room.member(ALICE, "join")
    room.ok("m.room.power_levels", ALICE, PL(users={CREATOR: 100, ALICE: 50, BOB: "10"}), "")
    room.denied("m.room.power_levels", ALICE, PL(users={CREATOR: 100, ALICE: " 51", BOB: 10}), "")


# --- v12: privileged creators --------------------------------------------------------------------------------------

def test_v12_rule_10_4_creators_cannot_be_listed_in_users():
    room = Room(V12, create_content={"additional_creators": [ALICE]})
    room.denied("m.room.power_levels", CREATOR, dict(PL12(), users={CREATOR: 100}), "", match="creators")
    room.denied("m.room.power_levels", CREATOR, dict(PL12(), users={ALICE: 100}), "", match="creators")
    room.ok("m.room.power_levels", CREATOR, PL12(users={BOB: 100}), "")


@pytest.mark.parametrize("rv", versions(lambda v: not v.privileged_creators), ids=ids)
def test_creator_may_be_listed_before_v12(rv):
    Room(rv).ok("m.room.power_levels", CREATOR, PL(users={CREATOR: 100}), "")


def test_v12_creator_can_do_everything():
    big = 2 ** 53 - 1
    room = Room(V12, join_rule="invite",
                pl=PL12(users={ALICE: big}, ban=big, kick=big, invite=big, state_default=big, events_default=big,
                        redact=big, events={"m.room.power_levels": big, "m.room.tombstone": big}))
    for u in (ALICE, BOB):
        room.member(u, "join")
    room.ok("m.room.message", CREATOR, {})
    room.ok("m.room.tombstone", CREATOR, {"body": "x", "replacement_room": "!r"}, "")
    room.ok_member(CREATOR, ALICE, "ban")  # ALICE has the maximum finite level
    room.ok_member(CREATOR, ALICE, "leave")
    room.ok_member(CREATOR, CAROL, "invite")
    room.ok("m.room.power_levels", CREATOR, PL12(users={ALICE: 0, BOB: big}), "")


def test_v12_additional_creator_is_infinite_and_cannot_be_kicked():
    room = Room(V12, pl=PL12(users={ALICE: 100}), create_content={"additional_creators": [BOB]})
    for u in (ALICE, BOB):
        room.member(u, "join")
    room.denied_member(ALICE, BOB, "ban")
    room.denied_member(ALICE, BOB, "leave")
    room.denied_member(ALICE, CREATOR, "ban")
    room.ok_member(BOB, ALICE, "ban")
    # One creator cannot kick another: infinity is not below infinity.
    room.denied_member(BOB, CREATOR, "leave")


def test_v12_creator_cannot_be_demoted():
    room = Room(V12, pl=PL12(users={ALICE: 100}))
    room.member(ALICE, "join")
    # Any power levels naming the creator are rejected; without the entry the creator stays infinite.
    room.denied("m.room.power_levels", ALICE, dict(PL12(), users={ALICE: 100, CREATOR: 0}), "", match="creators")
    room.ok("m.room.power_levels", ALICE, PL12(users={ALICE: 100}, users_default=0), "")


def test_v11_creator_can_be_demoted():
    room = Room(V11, pl=PL(users={CREATOR: 100, ALICE: 100}))
    room.member(ALICE, "join")
    room.denied("m.room.power_levels", ALICE, PL(users={CREATOR: 0, ALICE: 100}), "")  # equal level
    room = Room(V11, pl=PL(users={CREATOR: 50, ALICE: 100}))
    room.member(ALICE, "join")
    room.ok("m.room.power_levels", ALICE, PL(users={CREATOR: 0, ALICE: 100}), "")


def test_v12_creator_without_power_levels_event_beats_hundred():
    room = Room(V12)
    room.member(ALICE, "join")
    room.ok("m.room.power_levels", CREATOR, PL12(users={ALICE: 2 ** 53 - 1}), "")


def test_infinite_sender_level_is_infinite():
    from apps.rooms.power_levels import get_user_power_level
    room = Room(V12)
    assert get_user_power_level(CREATOR, room.state, V12) == math.inf


# --- redactions: v1-v2 rule 11; v3+ no special rule -------------------------------------------------------------------

@pytest.mark.parametrize("rv", [V1, V2], ids=ids)
def test_v1_v2_rule_11_redaction(rv):
    room = Room(rv, pl=PL(redact=50, users={CREATOR: 100, ALICE: 50}))
    room.member(ALICE, "join")
    room.member(BOB, "join")
    # R11.1: the redact level.
    room.ok("m.room.redaction", ALICE, {}, redacts="$x:b.test")
    # R11.2: same server as the redacted event.
    room.ok("m.room.redaction", BOB, {}, redacts="$x:b.test", event_id="$r:b.test")
    # R11.3: otherwise reject.
    room.denied("m.room.redaction", BOB, {}, redacts="$x:a.test", event_id="$r:b.test", match="redact")
    room.denied("m.room.redaction", BOB, {}, event_id="$r:b.test", match="redact")


@pytest.mark.parametrize("rv", versions(lambda v: v.event_format != 1), ids=ids)
def test_v3_plus_redaction_accepted_without_redact_level(rv):
    room = Room(rv, pl=pl_for(rv, redact=50))
    room.member(BOB, "join")
    kw = {} if rv.updated_redaction_rules else {"redacts": "$someone-elses"}
    content = {"redacts": "$someone-elses"} if rv.updated_redaction_rules else {}
    room.ok("m.room.redaction", BOB, content, **kw)


@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_redaction_subject_to_events_level(rv):
    room = Room(rv, pl=pl_for(rv, events={"m.room.redaction": 20}, redact=0))
    room.member(BOB, "join")
    room.denied("m.room.redaction", BOB, {"redacts": "$x:b.test"}, redacts="$x:b.test", match="power level 20")


# --- the classic scenario, end to end ---------------------------------------------------------------------------

@pytest.mark.parametrize("rv", ALL, ids=ids)
def test_room_lifecycle(rv):
    room = Room(rv, join_rule=None)
    room.state = {("m.room.create", ""): room.create}
    join = room.ok("m.room.member", CREATOR, {"membership": "join"}, CREATOR, prev=[room.create.event_id])
    room.add(join)
    room.add(room.ok("m.room.power_levels", CREATOR, pl_for(rv, users={CREATOR: 100} if not rv.privileged_creators
                                                             else {}), ""))
    room.add(room.ok("m.room.join_rules", CREATOR, {"join_rule": "invite"}, ""))
    room.denied_member(BOB, BOB, "join")
    room.add(room.ok_member(CREATOR, BOB, "invite"))
    room.add(room.ok_member(BOB, BOB, "join"))
    room.ok("m.room.message", BOB, {"body": "hello"})
    room.denied("m.room.name", BOB, {"name": "x"}, "")
    room.add(room.ok_member(CREATOR, BOB, "ban"))
    room.denied_member(BOB, BOB, "join", match="banned")
    room.denied("m.room.message", BOB, {"body": "hello"})
