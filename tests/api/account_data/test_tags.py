"""getRoomTags, setRoomTag, deleteRoomTag, and tags in /sync as the room account data `m.tag`."""
from __future__ import annotations

import pytest

from tests.api.rooms.helpers import create_room
from tests.api.sync.helpers import API, sync
from tests.conftest import assert_error

pytestmark = pytest.mark.django_db(transaction=True)


def _tags(client, room_id, user_id=None):
    return f"{API}/user/{user_id or client.user_id}/rooms/{room_id}/tags"


def test_set_get_delete(alice):
    room_id = create_room(alice)
    assert alice.get(_tags(alice, room_id)).json_body == {"tags": {}}
    assert alice.put(f"{_tags(alice, room_id)}/m.favourite", {"order": 0.25}).json_body == {}
    assert alice.put(f"{_tags(alice, room_id)}/u.work", {}).status_code == 200
    assert alice.get(_tags(alice, room_id)).json_body == {"tags": {"m.favourite": {"order": 0.25}, "u.work": {}}}
    assert alice.put(f"{_tags(alice, room_id)}/m.favourite", {"order": 1}).status_code == 200
    assert alice.delete(f"{_tags(alice, room_id)}/u.work").json_body == {}
    assert alice.get(_tags(alice, room_id)).json_body == {"tags": {"m.favourite": {"order": 1}}}
    # Removing a tag the room does not have changes nothing and succeeds.
    assert alice.delete(f"{_tags(alice, room_id)}/u.none").status_code == 200
    # The tags are the room account data m.tag.
    got = alice.get(f"{API}/user/{alice.user_id}/rooms/{room_id}/account_data/m.tag").json_body
    assert got == {"tags": {"m.favourite": {"order": 1}}}


def test_tags_are_per_room(alice):
    a, b = create_room(alice), create_room(alice)
    alice.put(f"{_tags(alice, a)}/u.one", {})
    assert alice.get(_tags(alice, b)).json_body == {"tags": {}}


@pytest.mark.parametrize("body,errcode", [
    ({"order": 1.5}, "M_INVALID_PARAM"), ({"order": -0.1}, "M_INVALID_PARAM"),
    ({"order": "0.5"}, "M_BAD_JSON"), ({"order": True}, "M_BAD_JSON"),
])
def test_order_is_a_number_between_0_and_1(alice, body, errcode):
    room_id = create_room(alice)
    assert_error(alice.put(f"{_tags(alice, room_id)}/u.x", body), 400, errcode)
    assert alice.get(_tags(alice, room_id)).json_body == {"tags": {}}


def test_errors(alice, bob):
    room_id = create_room(alice)
    assert_error(alice.put(f"{_tags(alice, room_id)}/{'x' * 256}", {}), 400, "M_INVALID_PARAM")
    assert_error(alice.put(f"{_tags(alice, room_id)}/u.x", raw=b"nope"), 400, "M_NOT_JSON")
    assert_error(alice.get(_tags(alice, "bad-room")), 400, "M_INVALID_PARAM")
    assert_error(bob.get(_tags(bob, room_id, alice.user_id)), 403, "M_FORBIDDEN")
    assert_error(bob.put(f"{_tags(bob, room_id, alice.user_id)}/u.x", {}), 403, "M_FORBIDDEN")
    assert_error(bob.delete(f"{_tags(bob, room_id, alice.user_id)}/u.x"), 403, "M_FORBIDDEN")


def test_tags_in_sync(alice):
    room_id = create_room(alice)
    alice.put(f"{_tags(alice, room_id)}/m.favourite", {"order": 0.5})
    first = sync(alice)
    assert first["rooms"]["join"][room_id]["account_data"]["events"] == [
        {"type": "m.tag", "content": {"tags": {"m.favourite": {"order": 0.5}}}}]
    # Setting the same tag again writes nothing: nothing to sync.
    alice.put(f"{_tags(alice, room_id)}/m.favourite", {"order": 0.5})
    assert room_id not in sync(alice, first["next_batch"])["rooms"]["join"]
    alice.delete(f"{_tags(alice, room_id)}/m.favourite")
    second = sync(alice, first["next_batch"])
    assert second["rooms"]["join"][room_id]["account_data"]["events"] == [{"type": "m.tag", "content": {"tags": {}}}]
    assert second["next_batch"] != first["next_batch"]
