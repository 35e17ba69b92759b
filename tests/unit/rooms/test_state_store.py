"""State groups: snapshots, deltas with a bounded chain, and reads that never replay the room."""
from __future__ import annotations

import pytest

from apps.rooms import state_store
from apps.rooms.models import CurrentState, EventToStateGroup, Room, StateGroup, StateGroupState

pytestmark = pytest.mark.django_db

ROOM = "!state:test.local"


@pytest.fixture(autouse=True)
def room():
    state_store.clear_cache()
    yield Room.objects.create(room_id=ROOM, room_version="11")
    state_store.clear_cache()


def k(t, sk=""):
    return (t, sk)


def test_snapshot_then_delta_round_trip():
    base = {k("m.room.create"): "$c", k("m.room.member", "@a:x"): "$j"}
    g1 = state_store.store_state_group(ROOM, base)
    g2 = state_store.store_delta_group(ROOM, g1, {k("m.room.name"): "$n"})
    g3 = state_store.store_delta_group(ROOM, g2, {k("m.room.name"): "$n2", k("m.room.member", "@b:x"): "$b"})
    state_store.clear_cache()
    assert state_store.state_at(g1) == base
    assert state_store.state_at(g2) == {**base, k("m.room.name"): "$n"}
    assert state_store.state_at(g3) == {**base, k("m.room.name"): "$n2", k("m.room.member", "@b:x"): "$b"}
    # Deltas store only what changed.
    assert StateGroupState.objects.filter(state_group_id=g2).count() == 1
    assert StateGroupState.objects.filter(state_group_id=g3).count() == 2
    assert StateGroup.objects.get(id=g3).prev_group_id == g2


def test_removed_keys_are_recorded_in_the_delta():
    g1 = state_store.store_state_group(ROOM, {k("a"): "$1", k("b"): "$2"})
    g2 = state_store.store_state_group(ROOM, {k("a"): "$1"}, prev_group=g1)
    state_store.clear_cache()
    assert state_store.state_at(g2) == {k("a"): "$1"}


def test_delta_chain_is_bounded(monkeypatch):
    monkeypatch.setattr(state_store, "MAX_DELTA_CHAIN", 3)
    g = state_store.store_state_group(ROOM, {k("m.room.create"): "$c"})
    groups = [g]
    for i in range(7):
        g = state_store.store_delta_group(ROOM, g, {k("t", str(i)): f"$e{i}"})
        groups.append(g)
    depths = list(StateGroup.objects.filter(id__in=groups).order_by("id").values_list("delta_depth", flat=True))
    assert depths == [0, 1, 2, 3, 0, 1, 2, 3]
    # A new snapshot carries the whole state.
    assert StateGroupState.objects.filter(state_group_id=groups[4]).count() == 5
    state_store.clear_cache()
    assert state_store.state_at(groups[-1]) == {k("m.room.create"): "$c", **{k("t", str(i)): f"$e{i}" for i in range(7)}}


def test_state_at_is_one_query_whatever_the_chain(django_assert_num_queries):
    g = state_store.store_state_group(ROOM, {k("m.room.create"): "$c"})
    for i in range(50):
        g = state_store.store_delta_group(ROOM, g, {k("t", str(i)): f"$e{i}"})
    state_store.clear_cache()
    with django_assert_num_queries(1):
        state = state_store.state_at(g)
    assert len(state) == 51


def test_unknown_group_raises():
    with pytest.raises(KeyError):
        state_store.state_at(987654)


def test_state_before_and_after_event():
    before = state_store.store_state_group(ROOM, {k("m.room.create"): "$c"})
    after = state_store.store_delta_group(ROOM, before, {k("m.room.name"): "$n"})
    EventToStateGroup.objects.create(event_id="$n", state_group_id=after, state_group_before_id=before)
    EventToStateGroup.objects.create(event_id="$c", state_group_id=before, state_group_before_id=None)
    assert state_store.state_before_event("$n") == {k("m.room.create"): "$c"}
    assert state_store.state_after_event("$n") == {k("m.room.create"): "$c", k("m.room.name"): "$n"}
    assert state_store.state_before_event("$c") == {}
    assert state_store.state_before_event("$unknown") is None


def test_current_state_reads_all_or_some_keys(room):
    CurrentState.objects.create(room=room, type="m.room.create", state_key="", event_id="$c")
    CurrentState.objects.create(room=room, type="m.room.member", state_key="@a:x", event_id="$a", membership="join")
    CurrentState.objects.create(room=room, type="m.room.member", state_key="@b:x", event_id="$b", membership="leave")
    assert len(state_store.current_state(ROOM)) == 3
    assert state_store.current_state(ROOM, [k("m.room.member", "@b:x"), k("m.room.name")]) == {
        k("m.room.member", "@b:x"): "$b"}
    assert set(state_store.current_state(ROOM, types=["m.room.member"])) == {
        k("m.room.member", "@a:x"), k("m.room.member", "@b:x")}
