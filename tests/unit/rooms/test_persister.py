"""The persister: one transaction per event, stream positions, forward extremities, current state and
memberships, rejected/soft-failed events kept out of the timeline, hooks after commit."""
from __future__ import annotations

import pytest

from apps.rooms import persister, pipeline, state_store, stores
from apps.rooms.creation import build_event, create_local_event
from apps.rooms.models import CurrentState, EventRow, ForwardExtremity, RoomPersister
from apps.rooms.room_versions import get_room_version

pytestmark = pytest.mark.django_db

ALICE = "@alice:test.local"
BOB = "@bob:test.local"


@pytest.fixture(autouse=True)
def _fresh_cache():
    state_store.clear_cache()
    yield
    state_store.clear_cache()


def make_room(version="11", join_rule="public"):
    rv = get_room_version(version)
    create, _ = create_local_event(ALICE, None, {"type": "m.room.create", "state_key": "", "content": {
        "room_version": version, **({} if rv.implicit_room_creator else {"creator": ALICE})}}, room_version=rv)
    room_id = create.room_id
    for ev in ({"type": "m.room.member", "state_key": ALICE, "content": {"membership": "join"}},
               {"type": "m.room.power_levels", "state_key": "",
                "content": {"users": {} if rv.privileged_creators else {ALICE: 100}}},
               {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": join_rule}}):
        create_local_event(ALICE, room_id, ev)
    return room_id


def extremities(room_id):
    return set(ForwardExtremity.objects.filter(room_id=room_id).values_list("event_id", flat=True))


def test_positions_increase():
    a = persister.allocate_event_position()
    b = persister.allocate_event_position()
    assert b > a


@pytest.mark.parametrize("version", ["1", "10", "11", "12"])
def test_linear_room_has_one_extremity_and_current_state(version):
    room_id = make_room(version)
    msg, pos = create_local_event(ALICE, room_id, {"type": "m.room.message", "content": {"body": "hi"}})
    assert extremities(room_id) == {msg.event_id}
    assert EventRow.objects.get(event_id=msg.event_id).stream_ordering == pos
    assert msg.depth == 5
    cs = state_store.current_state(room_id)
    assert set(cs) == {("m.room.create", ""), ("m.room.member", ALICE), ("m.room.power_levels", ""),
                       ("m.room.join_rules", "")}
    # The message is not state: the state after it is the state before it.
    assert state_store.state_after_event(msg.event_id) == state_store.state_before_event(msg.event_id) == cs
    assert RoomPersister.objects.get(room_id=room_id).instance_name == "main"


def test_membership_rows_follow_member_events():
    room_id = make_room()
    create_local_event(BOB, room_id, {"type": "m.room.member", "state_key": BOB, "content": {"membership": "join"}})
    assert stores.membership_of(room_id, BOB)[0] == "join"
    assert stores.joined_room_ids(BOB) == [room_id]
    leave, _ = create_local_event(BOB, room_id, {"type": "m.room.member", "state_key": BOB,
                                                 "content": {"membership": "leave"}})
    assert stores.membership_of(room_id, BOB) == ("leave", leave.event_id)
    assert stores.joined_room_ids(BOB) == []
    assert CurrentState.objects.get(room_id=room_id, state_key=BOB).membership == "leave"


def test_persisting_twice_returns_the_first_position():
    room_id = make_room()
    msg, pos = create_local_event(ALICE, room_id, {"type": "m.room.message", "content": {}})
    assert persister.persist_event(msg, persister.EventContext()) == pos
    assert EventRow.objects.filter(event_id=msg.event_id).count() == 1


def test_hooks_run_after_commit(django_capture_on_commit_callbacks):
    seen = []
    hook = persister.on_event_persisted(lambda p: seen.append((p.event.type, p.stream_ordering)))
    try:
        room_id = make_room()
        with django_capture_on_commit_callbacks(execute=True):
            msg, pos = create_local_event(ALICE, room_id, {"type": "m.room.message", "content": {}})
            assert seen == []  # nothing before the commit
        assert seen == [("m.room.message", pos)]
    finally:
        persister.remove_persisted_hook(hook)


def test_persisting_hooks_run_inside_the_transaction_and_cannot_lose_the_event():
    from apps.rooms.models import Room

    seen = []

    def record(p):
        # Inside the transaction: the event row is already visible to it.
        seen.append((p.event.type, EventRow.objects.filter(event_id=p.event.event_id).exists()))

    def broken(p):
        Room.objects.filter(room_id=p.event.room_id).delete()  # rolled back with the savepoint
        raise RuntimeError("derived rows failed")

    persister.on_event_persisting(record)
    persister.on_event_persisting(broken)
    try:
        room_id = make_room()
        msg, pos = create_local_event(ALICE, room_id, {"type": "m.room.message", "content": {}})
    finally:
        persister.remove_persisting_hook(record)
        persister.remove_persisting_hook(broken)
    assert ("m.room.message", True) in seen
    assert EventRow.objects.filter(event_id=msg.event_id, stream_ordering=pos).exists()
    assert Room.objects.filter(room_id=room_id).exists()


def _build(room_id, sender, event_dict, prev_ids):
    rv = get_room_version(stores.get_room(room_id).room_version)
    context = pipeline.context_after(room_id, rv, prev_ids)
    depth = max(stores.get_events(prev_ids)[p].depth for p in prev_ids) + 1
    return build_event(rv=rv, room_id=room_id, sender=sender, event_dict=event_dict, prev_ids=prev_ids,
                       depth=depth, context=context), context


def test_soft_failed_and_rejected_events_stay_out_of_the_timeline_state():
    room_id = make_room()
    head = extremities(room_id)
    ev, ctx = _build(room_id, ALICE, {"type": "m.room.name", "state_key": "", "content": {"name": "soft"}}, list(head))
    ev.internal.soft_failed = True
    persister.persist_event(ev, ctx)
    assert extremities(room_id) == head
    assert ("m.room.name", "") not in state_store.current_state(room_id)

    ev2, ctx2 = _build(room_id, BOB, {"type": "m.room.name", "state_key": "", "content": {"name": "rej"}}, list(head))
    ev2.internal.rejected_reason = "not allowed"
    persister.persist_event(ev2, ctx2)
    assert extremities(room_id) == head
    # A rejected state event does not change the state after it.
    assert state_store.state_after_event(ev2.event_id) == state_store.state_before_event(ev2.event_id)
    assert EventRow.objects.get(event_id=ev2.event_id).rejected_reason == "not allowed"


def test_fork_gives_two_extremities_and_resolved_current_state():
    room_id = make_room()
    head = list(extremities(room_id))
    a, ctx_a = _build(room_id, ALICE, {"type": "m.room.name", "state_key": "", "content": {"name": "A"}}, head)
    b, ctx_b = _build(room_id, ALICE, {"type": "m.room.topic", "state_key": "", "content": {"topic": "B"}}, head)
    persister.persist_event(a, ctx_a)
    persister.persist_event(b, ctx_b)
    assert extremities(room_id) == {a.event_id, b.event_id}
    cs = state_store.current_state(room_id)
    assert cs[("m.room.name", "")] == a.event_id and cs[("m.room.topic", "")] == b.event_id
    # The next local event merges the fork.
    msg, _ = create_local_event(ALICE, room_id, {"type": "m.room.message", "content": {}})
    assert set(msg.prev_event_ids) == {a.event_id, b.event_id}
    assert extremities(room_id) == {msg.event_id}
    before = state_store.state_before_event(msg.event_id)
    assert before[("m.room.name", "")] == a.event_id and before[("m.room.topic", "")] == b.event_id
