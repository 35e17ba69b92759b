"""The order of a space's children (client-server API, "Ordering of children within a space"), with
the spec's own example."""
from __future__ import annotations

from apps.rooms.events import Event
from apps.rooms.room_versions import get_room_version
from apps.spaces.handlers import child_state, ordered_children


def _child(room_id: str, ts: int, **content) -> Event:
    pdu = {"type": "m.space.child", "state_key": room_id, "sender": "@a:example.org", "room_id": "!s:example.org",
           "origin_server_ts": ts, "content": {"via": ["example.org"], **content}}
    return Event(pdu, get_room_version("10"))


def _order(*events: Event, suggested_only: bool = False) -> list[str]:
    children = [child_state(e) for e in events]
    return [c["state_key"] for c in ordered_children(children, suggested_only=suggested_only)]


def test_spec_example():
    events = [
        _child("!b:example.org", 1640341000000, order=" "),
        _child("!a:example.org", 1640141000000, order="aaaa"),
        _child("!c:example.org", 1640841000000, order="first"),
        _child("!e:example.org", 1640641000000),
        _child("!d:example.org", 1640741000000),
    ]
    assert _order(*events) == ["!b:example.org", "!a:example.org", "!c:example.org", "!e:example.org",
                               "!d:example.org"]


def test_invalid_orders_count_as_absent_and_ties_break_by_room_id():
    events = [
        _child("!x:example.org", 5, order="é"),          # outside \x20-\x7E
        _child("!y:example.org", 5, order="a" * 51),     # too long
        _child("!w:example.org", 5, order=7),            # not a string
        _child("!z:example.org", 9, order="zz"),
        _child("!v:example.org", 1, order="zz"),          # same order: the earlier event first
    ]
    assert _order(*events) == ["!v:example.org", "!z:example.org", "!w:example.org", "!x:example.org",
                               "!y:example.org"]


def test_children_without_via_and_suggested_only():
    gone = Event({"type": "m.space.child", "state_key": "!g:example.org", "sender": "@a:example.org",
                  "room_id": "!s:example.org", "origin_server_ts": 1, "content": {"via": []}}, get_room_version("10"))
    kept = _child("!k:example.org", 2, suggested=True)
    other = _child("!o:example.org", 3)
    assert _order(gone, kept, other) == ["!k:example.org", "!o:example.org"]
    assert _order(gone, kept, other, suggested_only=True) == ["!k:example.org"]
