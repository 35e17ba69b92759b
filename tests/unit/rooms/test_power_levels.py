"""apps.rooms.power_levels: parsing of level values per room version, user levels, named and required
levels, creators."""
import math

import pytest

from apps.rooms.events import Event
from apps.rooms.power_levels import (
    creators, get_named_level, get_notification_level, get_user_power_level, parse_power_level,
    required_level_for_event,
)
from apps.rooms.room_versions import KNOWN_ROOM_VERSIONS, V1, V2, V5, V6, V9, V10, V11, V12

ALL = list(KNOWN_ROOM_VERSIONS.values())
ROOM = "!room:a.test"
ALICE, BOB, CAROL = "@alice:a.test", "@bob:b.test", "@carol:c.test"
_n = 0


def ev(rv, type_, sender, content, state_key=None):
    global _n
    _n += 1
    pdu = {"type": type_, "sender": sender, "content": content, "room_id": ROOM, "prev_events": [],
           "auth_events": [], "depth": _n}
    if state_key is not None:
        pdu["state_key"] = state_key
    if rv.event_format == 1:
        pdu["event_id"] = f"$e{_n}:a.test"
    e = Event(pdu, rv)
    if rv.event_format != 1:
        e.__dict__["event_id"] = f"$e{_n}"  # until hashing.py computes it
    return e


def create(rv, sender=ALICE, **content):
    if not rv.implicit_room_creator:
        content.setdefault("creator", sender)
    return ev(rv, "m.room.create", sender, content, "")


def pl(rv, **content):
    return ev(rv, "m.room.power_levels", ALICE, content, "")


def state(*events):
    return {(e.type, e.state_key): e for e in events}


# --- parse_power_level ------------------------------------------------------------------------------

@pytest.mark.parametrize("rv", ALL, ids=lambda v: f"v{v.identifier}")
def test_integers_are_levels_in_every_version(rv):
    assert parse_power_level(100, rv) == 100
    assert parse_power_level(-5, rv) == -5
    assert parse_power_level(True, rv) is None
    assert parse_power_level(None, rv) is None
    assert parse_power_level([1], rv) is None


@pytest.mark.parametrize("raw, value", [
    ("100", 100), ("000100", 100), ("+100", 100), ("-100", -100), (" 100 ", 100), (" 00100 ", 100),
    (" +100 ", 100), (" -100 ", -100), ("\t7\n", 7),
])
@pytest.mark.parametrize("rv", [v for v in ALL if not v.enforce_int_power_levels], ids=lambda v: f"v{v.identifier}")
def test_stringy_levels_v1_to_v9(rv, raw, value):
    # fragments/v1-stringy-power-levels.md
    assert parse_power_level(raw, rv) == value


@pytest.mark.parametrize("raw", ["1.5", "1e3", "", " ", "+-1", "--1", "1_000", "abc", "١٠", "0x10", "+ 1"])
@pytest.mark.parametrize("rv", [V1, V9], ids=lambda v: f"v{v.identifier}")
def test_malformed_strings_are_not_levels(rv, raw):
    assert parse_power_level(raw, rv) is None


@pytest.mark.parametrize("rv", [v for v in ALL if v.enforce_int_power_levels], ids=lambda v: f"v{v.identifier}")
def test_v10_plus_rejects_strings_and_floats(rv):
    assert parse_power_level("100", rv) is None
    assert parse_power_level(50.0, rv) is None


@pytest.mark.parametrize("rv", [V1, V2, V5], ids=lambda v: f"v{v.identifier}")
def test_floaty_levels_v1_to_v5_truncate(rv):
    # fragments/v1-floaty-power-levels.md
    assert parse_power_level(5.114698E4, rv) == 51146
    assert parse_power_level(50.57, rv) == 50
    assert parse_power_level(-1.5, rv) == -1
    assert parse_power_level(math.inf, rv) is None
    assert parse_power_level(-math.inf, rv) is None
    assert parse_power_level(math.nan, rv) is None


@pytest.mark.parametrize("rv", [V6, V9], ids=lambda v: f"v{v.identifier}")
def test_floats_are_not_levels_from_v6(rv):
    assert parse_power_level(50.5, rv) is None


# --- creators ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("rv", [v for v in ALL if not v.implicit_room_creator], ids=lambda v: f"v{v.identifier}")
def test_creator_is_content_creator_before_v11(rv):
    assert creators(ev(rv, "m.room.create", ALICE, {"creator": BOB}, "")) == {BOB}
    assert creators(ev(rv, "m.room.create", ALICE, {}, "")) == set()


def test_creator_is_sender_in_v11():
    assert creators(ev(V11, "m.room.create", ALICE, {"creator": BOB, "additional_creators": [CAROL]}, "")) == {ALICE}


def test_v12_creators_include_additional_creators():
    assert creators(ev(V12, "m.room.create", ALICE, {"additional_creators": [BOB, CAROL]}, "")) == {ALICE, BOB, CAROL}
    assert creators(None) == set()


# --- get_user_power_level -----------------------------------------------------------------------------

@pytest.mark.parametrize("rv", [v for v in ALL if not v.privileged_creators], ids=lambda v: f"v{v.identifier}")
def test_without_power_levels_creator_has_100_others_0(rv):
    auth = state(create(rv))
    assert get_user_power_level(ALICE, auth, rv) == 100
    assert get_user_power_level(BOB, auth, rv) == 0


def test_v12_without_power_levels_creators_infinite_others_0():
    auth = state(ev(V12, "m.room.create", ALICE, {"additional_creators": [BOB]}, ""))
    assert get_user_power_level(ALICE, auth, V12) == math.inf
    assert get_user_power_level(BOB, auth, V12) == math.inf
    assert get_user_power_level(CAROL, auth, V12) == 0


def test_v12_creator_is_infinite_whatever_power_levels_say():
    auth = state(ev(V12, "m.room.create", ALICE, {}, ""), pl(V12, users={ALICE: 1}, users_default=5))
    assert get_user_power_level(ALICE, auth, V12) == math.inf
    assert get_user_power_level(BOB, auth, V12) == 5


@pytest.mark.parametrize("rv", ALL, ids=lambda v: f"v{v.identifier}")
def test_users_entry_then_users_default(rv):
    auth = state(create(rv), pl(rv, users={BOB: 42}, users_default=3))
    assert get_user_power_level(BOB, auth, rv) == 42
    assert get_user_power_level(CAROL, auth, rv) == 3
    auth = state(create(rv), pl(rv, users={BOB: 42}))
    assert get_user_power_level(CAROL, auth, rv) == 0


@pytest.mark.parametrize("rv", ALL, ids=lambda v: f"v{v.identifier}")
def test_creator_has_no_default_100_once_power_levels_exist(rv):
    auth = state(create(rv), pl(rv, users={}))
    expected = math.inf if rv.privileged_creators else 0
    assert get_user_power_level(ALICE, auth, rv) == expected


def test_stringy_user_level_read_in_v9_not_v10():
    assert get_user_power_level(BOB, state(create(V9), pl(V9, users={BOB: " 75 "})), V9) == 75
    # v10: not a level -> users_default
    assert get_user_power_level(BOB, state(create(V10), pl(V10, users={BOB: "75"}, users_default=1)), V10) == 1


# --- named and required levels --------------------------------------------------------------------------

@pytest.mark.parametrize("name, default", [("ban", 50), ("kick", 50), ("redact", 50), ("invite", 0),
                                           ("state_default", 50), ("events_default", 0), ("users_default", 0)])
@pytest.mark.parametrize("rv", [V1, V6, V10, V12], ids=lambda v: f"v{v.identifier}")
def test_named_level_defaults(rv, name, default):
    assert get_named_level(state(create(rv)), name) == default
    assert get_named_level(state(create(rv), pl(rv)), name) == default
    assert get_named_level(state(create(rv), pl(rv, **{name: 7})), name) == 7
    assert get_named_level(state(create(rv), pl(rv)), name, 99) == 99


def test_named_level_stringy():
    assert get_named_level(state(create(V1), pl(V1, ban="080")), "ban", 50) == 80
    assert get_named_level(state(create(V10), pl(V10, ban="80")), "ban", 50) == 50


def test_notification_level():
    assert get_notification_level(state(create(V6), pl(V6))) == 50
    assert get_notification_level(state(create(V6), pl(V6, notifications={"room": 20}))) == 20


@pytest.mark.parametrize("rv", ALL, ids=lambda v: f"v{v.identifier}")
def test_required_level(rv):
    auth = state(create(rv), pl(rv, events={"m.room.name": 30, "m.custom": 10}, state_default=60, events_default=5))
    assert required_level_for_event(ev(rv, "m.room.name", ALICE, {}, ""), auth) == 30
    assert required_level_for_event(ev(rv, "m.custom", ALICE, {}), auth) == 10
    assert required_level_for_event(ev(rv, "m.room.topic", ALICE, {}, ""), auth) == 60
    assert required_level_for_event(ev(rv, "m.room.message", ALICE, {}), auth) == 5
    # No power levels: state 50, messages 0.
    bare = state(create(rv))
    assert required_level_for_event(ev(rv, "m.room.topic", ALICE, {}, ""), bare) == 50
    assert required_level_for_event(ev(rv, "m.room.message", ALICE, {}), bare) == 0
