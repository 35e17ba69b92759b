"""apps.rooms.visibility.filter_events_for_user: the spec's rules at each event, in a bounded number
of queries whatever the number of events and state groups."""
from __future__ import annotations

import pytest

from apps.rooms import state_store, stores
from apps.rooms.creation import create_local_event
from apps.rooms.handlers import create_room
from apps.rooms.models import EventRow
from apps.rooms.visibility import filter_events_for_user

pytestmark = pytest.mark.django_db

A, B = "@alice:test", "@bob:test"


@pytest.fixture(autouse=True)
def _users(db):
    from apps.accounts.models import User

    for lp in ("alice", "bob"):
        User.objects.create(localpart=lp)
    state_store.clear_cache()
    yield
    state_store.clear_cache()


def _room():
    from types import SimpleNamespace

    return create_room(SimpleNamespace(user_id=A, device_id=None), preset_name="public_chat")


def _send(sender, room_id, body):
    ev, _ = create_local_event(sender, room_id, {"type": "m.room.message", "content": {"body": body}})
    return ev


def _state(sender, room_id, etype, content, state_key=""):
    ev, _ = create_local_event(sender, room_id, {"type": etype, "state_key": state_key, "content": content})
    return ev


def _timeline(room_id):
    ids = EventRow.objects.filter(room_id=room_id).order_by("stream_ordering").values_list("event_id", flat=True)
    found = stores.get_events(ids)
    return [found[i] for i in ids]


def _bodies(events):
    return [e.content["body"] for e in events if e.type == "m.room.message"]


def test_rules(django_assert_max_num_queries):
    room_id = _room()
    _state(A, room_id, "m.room.history_visibility", {"history_visibility": "joined"})
    _send(A, room_id, "joined-era")
    _state(A, room_id, "m.room.history_visibility", {"history_visibility": "invited"})
    _state(A, room_id, "m.room.member", {"membership": "invite"}, B)
    _send(A, room_id, "invited-era")
    _state(B, room_id, "m.room.member", {"membership": "join"}, B)
    _send(A, room_id, "member")
    _state(B, room_id, "m.room.member", {"membership": "leave"}, B)
    _send(A, room_id, "gone")
    _state(A, room_id, "m.room.history_visibility", {"history_visibility": "world_readable"})
    _send(A, room_id, "public")
    events = _timeline(room_id)
    assert _bodies(filter_events_for_user(A, events)) == ["joined-era", "invited-era", "member", "gone", "public"]
    with django_assert_max_num_queries(5):
        seen = filter_events_for_user(B, events)
    assert _bodies(seen) == ["invited-era", "member", "public"]
    # bob's own membership events are all his to see.
    own = [e.membership for e in seen if e.type == "m.room.member" and e.state_key == B]
    assert own == ["invite", "join", "leave"]
    # A stranger sees only the world-readable part (and the change to it).
    stranger = filter_events_for_user("@carol:test", events)
    assert _bodies(stranger) == ["public"]
    assert [e.type for e in stranger] == ["m.room.history_visibility", "m.room.message"]


def test_shared_needs_a_later_join(django_assert_max_num_queries):
    room_id = _room()
    for i in range(5):
        _state(A, room_id, "org.example.s", {"i": i}, str(i))  # several state groups
        _send(A, room_id, f"m{i}")
    events = _timeline(room_id)
    assert filter_events_for_user(B, events) == []
    _state(B, room_id, "m.room.member", {"membership": "join"}, B)
    events = _timeline(room_id)
    with django_assert_max_num_queries(5):
        assert _bodies(filter_events_for_user(B, events)) == [f"m{i}" for i in range(5)]
    assert filter_events_for_user(B, []) == []
