"""`m.typing` EDUs from other servers (server-server API, "Typing Notifications"): a remote member's
typing reaches local members' /sync; EDUs for users of another server or not in the room are ignored."""
from __future__ import annotations

import pytest

from apps.typing.models import RoomTyping
from tests.api.federation.remote import FakeRemote
from tests.api.rooms.helpers import create_room
from tests.api.sync.helpers import sync

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def remote(db):
    return FakeRemote("remote.test")


def _edu(room_id, user_id, typing=True):
    return {"edu_type": "m.typing", "content": {"room_id": room_id, "user_id": user_id, "typing": typing}}


def _typing_users(body, room_id):
    room = body["rooms"]["join"].get(room_id)
    events = [e for e in room["ephemeral"]["events"] if e["type"] == "m.typing"] if room else []
    return events[0]["content"]["user_ids"] if events else None


def test_remote_member_typing_reaches_local_members(alice, remote):
    room_id = create_room(alice, preset="public_chat")
    bob = remote.user("bob")
    remote.join(room_id, bob)
    since = sync(alice)["next_batch"]
    assert remote.send_transaction([], [_edu(room_id, bob)]).status_code == 200
    body = sync(alice, since)
    assert _typing_users(body, room_id) == [bob]
    assert remote.send_transaction([], [_edu(room_id, bob, typing=False)]).status_code == 200
    assert _typing_users(sync(alice, body["next_batch"]), room_id) == []


def test_edus_for_others_are_ignored(alice, remote):
    room_id = create_room(alice, preset="public_chat")
    bob = remote.user("bob")
    remote.join(room_id, bob)
    # A user of another server, a remote user not in the room, a local user: none is the sender's to set.
    for edu in (_edu(room_id, "@carol:elsewhere.test"), _edu(room_id, remote.user("dave")),
                _edu(room_id, alice.user_id), _edu(room_id, bob, typing="yes"),
                {"edu_type": "m.typing", "content": {"room_id": room_id}}):
        assert remote.send_transaction([], [edu]).status_code == 200
    assert not RoomTyping.objects.filter(room_id=room_id).exclude(typing={}).exists()
