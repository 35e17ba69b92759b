"""apps.rooms.pagination: RoomToken forms, parsing (400 M_INVALID_PARAM), order conditions."""
from __future__ import annotations

import pytest

from apps.core.errors import MatrixError
from apps.rooms.pagination import RoomToken, parse_direction


def test_round_trips():
    assert RoomToken(57, 29).to_string() == "t29-57"
    assert RoomToken.parse("t29-57") == RoomToken(57, 29)
    assert RoomToken(12).to_string() == "s12"
    assert RoomToken.parse("s12") == RoomToken(12)
    assert RoomToken.parse(RoomToken.before(3, 10).to_string()) == RoomToken(9, 3)
    assert RoomToken.after(3, 10) == RoomToken(10, 3)


def test_sync_tokens_give_their_events_position():
    assert RoomToken.parse("s42_1_2_3_4_5_6_7") == RoomToken(42)
    assert RoomToken.parse("s42_1") == RoomToken(42)


@pytest.mark.parametrize("raw", ["", "x", "t", "t1", "t1-", "t-", "ta-b", "t1-2-3", "t1-2 ", "s", "sx",
                                 "s1_x", "t" + "9" * 19 + "-1", "s" + "1" * 5000, None, 5, "m1~1.2"])
def test_garbage_is_invalid_param(raw):
    with pytest.raises(MatrixError) as e:
        RoomToken.parse(raw)
    assert (e.value.errcode, e.value.status) == ("M_INVALID_PARAM", 400)


KEYS = [(1, 1), (2, 2), (3, 3), (3, 4), (4, 5)]  # (depth, stream): two events at depth 3 (a fork)


@pytest.fixture
def timeline(db):
    from apps.rooms.models import EventRow, Room

    room = Room.objects.create(room_id="!p:x", room_version="11")
    for d, s in KEYS:
        EventRow.objects.create(event_id=f"$e{s}", room=room, room_version="11", type="m.room.message",
                                sender="@a:x", depth=d, stream_ordering=s, origin_server_ts=0, received_ts=0,
                                json="{}")
    return EventRow.objects.filter(room=room)


def _keys(qs, q):
    return sorted(qs.filter(q).values_list("depth", "stream_ordering"))


def test_conditions_split_the_order_exactly(timeline):
    for d, s in KEYS:
        before, after = RoomToken.before(d, s), RoomToken.after(d, s)
        # Backwards from the token before an event excludes it; forwards includes it.
        assert (d, s) not in _keys(timeline, before.q_from("b")) and (d, s) in _keys(timeline, before.q_from("f"))
        assert (d, s) in _keys(timeline, after.q_from("b")) and (d, s) not in _keys(timeline, after.q_from("f"))
        for t in (before, after):
            b, f = _keys(timeline, t.q_from("b")), _keys(timeline, t.q_from("f"))
            assert sorted(b + f) == KEYS and not set(b) & set(f)
            assert _keys(timeline, t.q_to("b")) == f and _keys(timeline, t.q_to("f")) == b
    # Stream tokens compare stream orderings only.
    assert _keys(timeline, RoomToken(3).q_from("b")) == [(1, 1), (2, 2), (3, 3)]
    assert _keys(timeline, RoomToken(3).q_from("f")) == [(3, 4), (4, 5)]


def test_direction():
    assert parse_direction("b") == "b" and parse_direction("f") == "f"
    assert parse_direction(None, required=False) == "b"
    for raw, code in ((None, "M_MISSING_PARAM"), ("x", "M_INVALID_PARAM"), ("", "M_INVALID_PARAM")):
        with pytest.raises(MatrixError) as e:
            parse_direction(raw)
        assert e.value.errcode == code
