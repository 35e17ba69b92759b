"""apps.rooms.filters: RoomEventFilter parsing (M_BAD_JSON / M_NOT_JSON) and application."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from apps.core.errors import MatrixError
from apps.rooms.filters import RoomEventFilter, parse_filter_param


def ev(type_="m.room.message", sender="@a:x", content=None, room_id="!r:x"):
    return SimpleNamespace(type=type_, sender=sender, content=content or {}, room_id=room_id)


def test_empty_filter_allows_everything():
    f = RoomEventFilter.parse(None)
    assert f == RoomEventFilter() and f.is_empty
    assert f.allows_event(ev()) and f.allows_room("!any:x")
    assert parse_filter_param(None) == f and parse_filter_param("") == f and parse_filter_param("{}") == f


def test_types_with_wildcards_and_not_types_win():
    f = RoomEventFilter.parse({"types": ["m.room.*", "org.x"], "not_types": ["m.room.member"]})
    assert f.allows_event(ev("m.room.message"))
    assert f.allows_event(ev("org.x"))
    assert not f.allows_event(ev("org.xy"))
    assert not f.allows_event(ev("m.room.member"))
    assert f.exact_types is None and f.exact_not_types == ("m.room.member",)
    assert RoomEventFilter.parse({"types": ["a", "b"]}).exact_types == ("a", "b")
    assert not RoomEventFilter.parse({"types": []}).allows_event(ev())
    assert RoomEventFilter.parse({"types": ["*"]}).allows_event(ev("anything"))


def test_senders_rooms_contains_url():
    f = RoomEventFilter.parse({"senders": ["@a:x", "@b:x"], "not_senders": ["@b:x"]})
    assert f.allows_event(ev(sender="@a:x")) and not f.allows_event(ev(sender="@b:x"))
    assert not f.allows_event(ev(sender="@c:x"))
    f = RoomEventFilter.parse({"rooms": ["!a:x", "!b:x"], "not_rooms": ["!b:x"]})
    assert f.allows_room("!a:x") and not f.allows_room("!b:x") and not f.allows_room("!c:x")
    assert not f.allows_event(ev(room_id="!b:x"))
    with_url = ev(content={"url": "mxc://x/y"})
    assert RoomEventFilter.parse({"contains_url": True}).allows_event(with_url)
    assert not RoomEventFilter.parse({"contains_url": True}).allows_event(ev())
    assert not RoomEventFilter.parse({"contains_url": False}).allows_event(with_url)
    assert not RoomEventFilter.parse({"contains_url": True}).allows_event(ev(content={"url": 3}))


def test_flags_and_limit():
    f = RoomEventFilter.parse({"limit": 5, "lazy_load_members": True, "include_redundant_members": True,
                               "unread_thread_notifications": True, "unknown_key": {"x": 1}})
    assert (f.limit, f.lazy_load_members, f.include_redundant_members, f.unread_thread_notifications) == \
        (5, True, True, True)
    assert RoomEventFilter.parse({"limit": None}).limit is None


@pytest.mark.parametrize("raw", [
    [], "x", 3,
    {"limit": -1}, {"limit": "3"}, {"limit": True}, {"limit": 1.5},
    {"types": "m.room.message"}, {"types": [1]}, {"not_types": {}}, {"senders": [None]},
    {"not_senders": "x"}, {"rooms": ["nope"]}, {"not_rooms": [3]}, {"contains_url": 1},
    {"lazy_load_members": "true"}, {"include_redundant_members": 0},
])
def test_bad_filters(raw):
    with pytest.raises(MatrixError) as e:
        RoomEventFilter.parse(raw)
    assert (e.value.errcode, e.value.status) == ("M_BAD_JSON", 400)


@pytest.mark.parametrize("raw, code", [("{", "M_NOT_JSON"), ("nan", "M_NOT_JSON"), ("[]", "M_BAD_JSON"),
                                       ('"x"', "M_BAD_JSON"), ('{"types": 1}', "M_BAD_JSON")])
def test_bad_filter_params(raw, code):
    with pytest.raises(MatrixError) as e:
        parse_filter_param(raw)
    assert e.value.errcode == code
