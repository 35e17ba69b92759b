"""Inbound `m.receipt` EDUs (apps.receipts.handlers.on_receipt_edu): only the origin's joined users,
only m.read, only events this server has; receipts reach /sync like local ones."""
from __future__ import annotations

import pytest

from apps.receipts import handlers
from apps.receipts.models import Receipt
from apps.rooms.models import RoomMembership
from tests.api.rooms.helpers import create_room, send

pytestmark = pytest.mark.django_db(transaction=True)

REMOTE = "@rita:remote.example"


def _room_with_remote_member(alice):
    room_id = create_room(alice, preset="public_chat")
    ev = send(alice, room_id).json_body["event_id"]
    # The membership as the persister would record a remote join (enough for the receipt rules).
    from apps.rooms.models import Room
    RoomMembership.objects.create(room=Room.objects.get(room_id=room_id), user_id=REMOTE, membership="join",
                                  event_id="$join", stream_ordering=1)
    return room_id, ev


def test_remote_read_receipt_is_stored(alice):
    room_id, ev = _room_with_remote_member(alice)
    n = handlers.on_receipt_edu("remote.example", {room_id: {"m.read": {
        REMOTE: {"event_ids": [ev], "data": {"ts": 1533358089009, "thread_id": "main"}}}}})
    assert n == 1
    r = Receipt.objects.get(user_id=REMOTE)
    assert (r.event_id, r.ts, r.thread_key, r.receipt_type) == (ev, 1533358089009, "main", "m.read")


@pytest.mark.parametrize("origin,content_of", [
    ("other.example", lambda room, ev: {room: {"m.read": {REMOTE: {"event_ids": [ev]}}}}),       # not its user
    ("remote.example", lambda room, ev: {room: {"m.read.private": {REMOTE: {"event_ids": [ev]}}}}),
    ("remote.example", lambda room, ev: {room: {"m.read": {REMOTE: {"event_ids": ["$unknown"]}}}}),
    ("remote.example", lambda room, ev: {room: {"m.read": {"@stranger:remote.example": {"event_ids": [ev]}}}}),
    ("remote.example", lambda room, ev: {room: {"m.read": {REMOTE: {"event_ids": "nope"}}}}),
    ("remote.example", lambda room, ev: {room: "garbage"}),
])
def test_remote_receipts_ignored(alice, origin, content_of):
    room_id, ev = _room_with_remote_member(alice)
    assert handlers.on_receipt_edu(origin, content_of(room_id, ev)) == 0
    assert not Receipt.objects.filter(room_id=room_id).exists()


def test_edu_dispatch_reaches_the_receipts_handler(alice):
    from apps.federation import edus

    room_id, ev = _room_with_remote_member(alice)
    assert edus.dispatch("remote.example", {"edu_type": "m.receipt",
                                            "content": {room_id: {"m.read": {REMOTE: {"event_ids": [ev]}}}}})
    assert Receipt.objects.filter(user_id=REMOTE, event_id=ev).exists()
