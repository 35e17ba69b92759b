"""Lazy-loaded members without redundancy (client-server API, "Lazy-loading room members"): with
`lazy_load_members` a device is sent each sender's member event once; `include_redundant_members` sends
it every time; a repeated /sync with the same `since` (a lost response) is sent the members again."""
from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.api.rooms.helpers import create_room, send
from tests.api.sync.helpers import API, sync

pytestmark = pytest.mark.django_db(transaction=True)

LAZY = {"room": {"state": {"lazy_load_members": True}, "timeline": {"limit": 1}}}
REDUNDANT = {"room": {"state": {"lazy_load_members": True, "include_redundant_members": True},
                      "timeline": {"limit": 1}}}


def _say(client, room_id, body):
    resp = send(client, room_id, {"msgtype": "m.text", "body": body})
    assert resp.status_code == 200, resp.json_body


def _members(body, room_id) -> set[str]:
    room = body["rooms"]["join"].get(room_id, {})
    return {e["state_key"] for e in room.get("state", {}).get("events", []) if e["type"] == "m.room.member"}


@pytest.fixture
def room(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    assert bob.post(f"{API}/rooms/{room_id}/join").status_code == 200
    _say(alice, room_id, "first")
    return room_id


def test_a_member_already_sent_is_not_sent_again(alice, bob, room):
    first = sync(bob, filter=LAZY)
    assert _members(first, room) == {alice.user_id, bob.user_id}
    _say(alice, room, "second")
    second = sync(bob, first["next_batch"], filter=LAZY)
    assert [e["content"]["body"] for e in second["rooms"]["join"][room]["timeline"]["events"]] == ["second"]
    assert _members(second, room) == set()
    # A member event that changed is news: sent again.
    assert alice.put(f"{API}/profile/{alice.user_id}/displayname", {"displayname": "Alice"}).status_code == 200
    after_rename = sync(bob, second["next_batch"], filter=LAZY)
    _say(alice, room, "third")
    third = sync(bob, after_rename["next_batch"], filter=LAZY)
    assert _members(third, room) == set()  # the rename came in the timeline, which the device got


def test_include_redundant_members_sends_them_every_time(alice, bob, room):
    first = sync(bob, filter=REDUNDANT)
    _say(alice, room, "second")
    second = sync(bob, first["next_batch"], filter=REDUNDANT)
    assert _members(second, room) == {alice.user_id, bob.user_id}


def test_a_retried_sync_is_sent_the_members_again(alice, bob, room):
    first = sync(bob, filter=LAZY)
    _say(alice, room, "second")
    lost = sync(bob, first["next_batch"], filter=LAZY)
    assert _members(lost, room) == set()
    # A new sender: sent with the response that carries their first message ...
    carol = bob.__class__()
    carol.register("carol")
    assert carol.post(f"{API}/rooms/{room}/join").status_code == 200
    _say(carol, room, "hi from carol")
    since = lost["next_batch"]
    dropped = sync(bob, since, filter=LAZY)
    assert _members(dropped, room) == {carol.user_id}
    # ... and if that response never arrived, the same `since` gets everything again.
    retried = sync(bob, since, filter=LAZY)
    assert [e["event_id"] for e in retried["rooms"]["join"][room]["timeline"]["events"]] == [
        e["event_id"] for e in dropped["rooms"]["join"][room]["timeline"]["events"]]
    assert _members(retried, room) == {carol.user_id}
    # Once a later `since` shows the response arrived, carol's member event is not sent again.
    _say(carol, room, "again")
    assert _members(sync(bob, retried["next_batch"], filter=LAZY), room) == set()


def test_an_initial_sync_forgets_what_was_sent_before(alice, bob, room):
    first = sync(bob, filter=LAZY)
    _say(alice, room, "second")
    assert _members(sync(bob, first["next_batch"], filter=LAZY), room) == set()
    # The client cleared its store and starts over: the initial sync's members are all it holds.
    again = sync(bob, filter={"room": {"state": {"lazy_load_members": True}, "timeline": {"limit": 1}}})
    assert _members(again, room) == {alice.user_id, bob.user_id}


def test_each_device_has_its_own_record(alice, bob, room):
    first = sync(bob, filter=LAZY)
    _say(alice, room, "second")
    assert _members(sync(bob, first["next_batch"], filter=LAZY), room) == set()
    laptop = bob.__class__()
    login = laptop.post(f"{API}/login", {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "bob"},
                                         "password": "correct horse battery"}, token=None)
    assert login.status_code == 200, login.json_body
    laptop.token, laptop.user_id = login.json_body["access_token"], bob.user_id
    # The laptop's first incremental sync from the phone's token: it was never sent alice's member.
    _say(alice, room, "third")
    other = sync(laptop, first["next_batch"], filter=LAZY)
    assert alice.user_id in _members(other, room)


def test_a_lost_record_only_means_members_are_sent_again(alice, bob, room):
    first = sync(bob, filter=LAZY)
    cache.clear()
    _say(alice, room, "second")
    assert _members(sync(bob, first["next_batch"], filter=LAZY), room) == {alice.user_id, bob.user_id}
