"""apps.rooms.handover and `manage.py move_room` on one process: what a hand-over refuses, and the fence
in the persister (an event for a room this instance no longer persists is refused, and nothing of it is
written)."""
from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.rooms import persister
from apps.rooms.creation import create_local_event
from apps.rooms.handover import ROOM_MOVED, move_room
from apps.rooms.models import EventRow, RoomPersister
from tests.unit.rooms.test_persister import ALICE, make_room

pytestmark = pytest.mark.django_db


def test_only_event_persisters_take_rooms():
    room_id = make_room()
    with pytest.raises(CommandError, match="not an event persister"):
        call_command("move_room", room_id, "elsewhere", stdout=io.StringIO())
    with pytest.raises(CommandError, match="Unknown room"):
        call_command("move_room", "!nope:test", "main", stdout=io.StringIO())
    out = io.StringIO()
    call_command("move_room", room_id, "main", stdout=out)
    assert "already persisted by main" in out.getvalue()
    assert move_room(room_id, "main") == "main"


def test_the_persister_refuses_a_room_it_no_longer_persists():
    room_id = make_room()
    RoomPersister.objects.filter(room_id=room_id).update(instance_name="persister9")
    before = EventRow.objects.filter(room_id=room_id).count()
    with pytest.raises(Exception) as refused:
        persister.persist_event(*_built(room_id))
    assert getattr(refused.value, "errcode", None) == ROOM_MOVED
    assert refused.value.extra == {"writer": "persister9"}
    assert EventRow.objects.filter(room_id=room_id).count() == before


def _built(room_id):
    from apps.rooms import pipeline, stores
    from apps.rooms.creation import build_event
    from apps.rooms.room_versions import get_room_version

    rv = get_room_version(stores.get_room(room_id).room_version)
    prev_ids = [eid for eid, _ in stores.forward_extremities(room_id)]
    context = pipeline.context_after(room_id, rv, prev_ids)
    depth = max(stores.get_events(prev_ids)[p].depth for p in prev_ids) + 1
    event = build_event(rv=rv, room_id=room_id, sender=ALICE, event_dict={"type": "m.room.message", "content": {}},
                        prev_ids=prev_ids, depth=depth, context=context)
    return event, context


def test_create_local_event_still_works_on_the_assigned_persister():
    room_id = make_room()
    event, position = create_local_event(ALICE, room_id, {"type": "m.room.message", "content": {"body": "x"}})
    assert EventRow.objects.get(event_id=event.event_id).instance_name == "main" and position
