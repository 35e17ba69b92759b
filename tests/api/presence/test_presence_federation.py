"""`m.presence` EDUs from other servers (server-server API, "Presence"): a remote member's presence
reaches local room-mates; reports about users of another server or in no room here are ignored; a remote
user is not timed out by the local rules, only after long silence."""
from __future__ import annotations

import pytest

from apps.presence import handlers
from apps.presence.models import UserPresence
from apps.presence.states import OFFLINE_AFTER_MS, REMOTE_OFFLINE_AFTER_MS
from tests.api.federation.remote import FakeRemote
from tests.api.rooms.helpers import create_room
from tests.api.sync.helpers import sync

pytestmark = pytest.mark.django_db(transaction=True)

API = "/_matrix/client/v3"


@pytest.fixture
def remote(db):
    return FakeRemote("remote.test")


def _edu(*push):
    return {"edu_type": "m.presence", "content": {"push": list(push)}}


def _presence_of(body, user_id):
    return [e["content"] for e in body["presence"]["events"] if e["sender"] == user_id]


def test_remote_member_presence_reaches_local_room_mates(alice, remote):
    room_id = create_room(alice, preset="public_chat")
    bob = remote.user("bob")
    remote.join(room_id, bob)
    since = sync(alice)["next_batch"]
    resp = remote.send_transaction([], [_edu({"user_id": bob, "presence": "online", "status_msg": "hi",
                                              "last_active_ago": 2000, "currently_active": True})])
    assert resp.status_code == 200
    body = sync(alice, since)
    [seen] = _presence_of(body, bob)
    assert seen["presence"] == "online" and seen["status_msg"] == "hi" and seen["currently_active"] is True
    assert seen["last_active_ago"] >= 2000
    got = alice.get(f"{API}/presence/{bob}/status").json_body
    assert got["presence"] == "online" and got["last_active_ago"] >= 2000

    # The local timeouts do not apply to them; long silence does.
    now = handlers.now_ms()
    handlers.apply_due(now + OFFLINE_AFTER_MS + 1000)
    assert UserPresence.objects.get(user_id=bob).state == "online"
    handlers.apply_due(now + REMOTE_OFFLINE_AFTER_MS + 1000)
    assert UserPresence.objects.get(user_id=bob).state == "offline"
    assert _presence_of(sync(alice, body["next_batch"], set_presence="offline"), bob)[0]["presence"] == "offline"


def test_reports_that_are_not_the_senders_to_make_are_ignored(alice, remote):
    room_id = create_room(alice, preset="public_chat")
    bob = remote.user("bob")
    remote.join(room_id, bob)
    ignored = [{"user_id": "@carol:elsewhere.test", "presence": "online", "last_active_ago": 0},
               {"user_id": remote.user("dave"), "presence": "online", "last_active_ago": 0},  # in no room here
               {"user_id": alice.user_id, "presence": "unavailable", "last_active_ago": 0},
               {"user_id": bob, "presence": "busy", "last_active_ago": 0},
               {"user_id": bob, "presence": "online", "last_active_ago": -5},
               "not an object"]
    assert remote.send_transaction([], [_edu(*ignored), {"edu_type": "m.presence", "content": {"push": 3}}]) \
        .status_code == 200
    assert not UserPresence.objects.filter(remote=True).exists()
    assert not UserPresence.objects.filter(user_id=alice.user_id, state="unavailable").exists()
