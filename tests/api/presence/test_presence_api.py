"""GET/PUT /presence/{userId}/status (getPresence, setPresence), `/sync?set_presence=` and the top-level
`presence` section of /sync, its filter, the timeouts and `presence.enabled: false`."""
from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from apps.presence import handlers
from apps.presence.states import IDLE_AFTER_MS, OFFLINE_AFTER_MS
from tests.api.rooms.helpers import create_room
from tests.api.sync.helpers import sync
from tests.conftest import MatrixClient, assert_error

pytestmark = pytest.mark.django_db(transaction=True)

API = "/_matrix/client/v3"


def _put(client, body, user_id=None):
    return client.put(f"{API}/presence/{user_id or client.user_id}/status", body)


def _get(client, user_id):
    return client.get(f"{API}/presence/{user_id}/status")


def _share_room(alice, bob) -> str:
    room_id = create_room(alice, preset="public_chat")
    assert bob.post(f"{API}/rooms/{room_id}/join").status_code == 200
    return room_id


def _presence_of(body, user_id):
    return [e["content"] for e in body["presence"]["events"] if e["sender"] == user_id]


@pytest.fixture
def carol(db) -> MatrixClient:
    c = MatrixClient()
    c.register("carol")
    return c


def test_set_and_get_own_presence(alice):
    assert _get(alice, alice.user_id).json_body == {"presence": "offline"}
    resp = _put(alice, {"presence": "online", "status_msg": "at my desk"})
    assert resp.status_code == 200 and resp.json_body == {}
    got = _get(alice, alice.user_id).json_body
    assert got["presence"] == "online" and got["status_msg"] == "at my desk" and got["currently_active"] is True
    assert 0 <= got["last_active_ago"] < 5000
    # A new state without a message clears the message.
    _put(alice, {"presence": "unavailable"})
    got = _get(alice, alice.user_id).json_body
    assert got["presence"] == "unavailable" and "status_msg" not in got and "currently_active" not in got


def test_presence_of_others_only_when_sharing_a_room(alice, bob, carol):
    _put(bob, {"presence": "online", "status_msg": "hello"})
    assert_error(_get(alice, bob.user_id), 403, "M_FORBIDDEN")
    assert_error(_get(alice, "@nobody:test.local"), 403, "M_FORBIDDEN")
    _share_room(alice, bob)
    got = _get(alice, bob.user_id)
    assert got.status_code == 200 and got.json_body["presence"] == "online"
    assert got.json_body["status_msg"] == "hello"
    # Someone in a shared room who never set presence nor synced: offline.
    room_id = create_room(alice, preset="public_chat")
    carol.post(f"{API}/rooms/{room_id}/join")
    assert _get(alice, carol.user_id).json_body == {"presence": "offline"}


def test_only_your_own_presence_can_be_set(alice, bob):
    assert_error(_put(alice, {"presence": "online"}, user_id=bob.user_id), 403, "M_FORBIDDEN")
    assert _get(bob, bob.user_id).json_body == {"presence": "offline"}
    assert_error(alice.put(f"{API}/presence/{alice.user_id}/status", {"presence": "online"}, token=None),
                 401, "M_MISSING_TOKEN")


@pytest.mark.parametrize("body,errcode", [
    ({}, "M_MISSING_PARAM"),
    ({"presence": "busy"}, "M_INVALID_PARAM"),
    ({"presence": 1}, "M_BAD_JSON"),
    ({"presence": "online", "status_msg": 5}, "M_BAD_JSON"),
])
def test_bad_bodies(alice, body, errcode):
    assert_error(_put(alice, body), 400, errcode)


def test_changes_reach_room_mates_in_sync_and_no_one_else(alice, bob, carol):
    _share_room(alice, bob)
    bob_since = sync(bob)["next_batch"]
    carol_since = sync(carol)["next_batch"]
    _put(alice, {"presence": "unavailable", "status_msg": "lunch"})
    body = sync(bob, bob_since)
    [seen] = _presence_of(body, alice.user_id)
    assert seen["presence"] == "unavailable" and seen["status_msg"] == "lunch"
    assert {e["type"] for e in body["presence"]["events"]} == {"m.presence"}
    assert _presence_of(sync(carol, carol_since), alice.user_id) == []
    # Only what changed since `since`: nothing new about alice now.
    assert _presence_of(sync(bob, body["next_batch"]), alice.user_id) == []
    # An initial sync has everyone not offline, oneself included.
    initial = sync(bob)
    assert _presence_of(initial, alice.user_id)[0]["presence"] == "unavailable"
    assert _presence_of(initial, bob.user_id)[0]["presence"] == "online"


def test_sync_set_presence(alice):
    sync(alice)  # set_presence defaults to online
    assert _get(alice, alice.user_id).json_body["presence"] == "online"
    sync(alice, set_presence="unavailable")
    assert _get(alice, alice.user_id).json_body["presence"] == "unavailable"
    # offline leaves the state alone.
    sync(alice, set_presence="offline")
    assert _get(alice, alice.user_id).json_body["presence"] == "unavailable"
    # An idle (unavailable) user is not made online by a background sync.
    sync(alice)
    assert _get(alice, alice.user_id).json_body["presence"] == "unavailable"
    _put(alice, {"presence": "offline"})
    sync(alice, set_presence="offline")
    assert _get(alice, alice.user_id).json_body["presence"] == "offline"
    sync(alice)
    assert _get(alice, alice.user_id).json_body["presence"] == "online"
    assert_error(alice.get(f"{API}/sync?set_presence=busy"), 400, "M_INVALID_PARAM")


def test_presence_filter(alice, bob):
    _share_room(alice, bob)
    since = sync(bob)["next_batch"]
    _put(alice, {"presence": "online"})
    _put(bob, {"presence": "online", "status_msg": "me"})
    assert sync(bob, since, filter={"presence": {"not_types": ["m.presence"]}})["presence"]["events"] == []
    assert sync(bob, since, filter={"presence": {"limit": 0}})["presence"]["events"] == []
    only_bob = sync(bob, since, filter={"presence": {"senders": [bob.user_id]}})["presence"]["events"]
    assert [e["sender"] for e in only_bob] == [bob.user_id]
    no_bob = sync(bob, since, filter={"presence": {"not_senders": [bob.user_id]}})["presence"]["events"]
    assert [e["sender"] for e in no_bob] == [alice.user_id]
    assert len(sync(bob, since, filter={"presence": {"limit": 1}})["presence"]["events"]) == 1


def test_timeouts_reach_syncing_room_mates(alice, bob, monkeypatch):
    _share_room(alice, bob)
    _put(alice, {"presence": "online"})
    since = sync(bob)["next_batch"]
    start = handlers.now_ms()
    # Five minutes idle (kept connected meanwhile): unavailable.
    later = start + IDLE_AFTER_MS + 1000
    from apps.presence.models import UserPresence
    UserPresence.objects.filter(user_id=alice.user_id).update(last_seen_ts=later)
    assert handlers.apply_due(later) >= 1  # bob, not seen since, goes offline too
    body = sync(bob, since)
    assert _presence_of(body, alice.user_id)[0]["presence"] == "unavailable"
    # Not seen for the offline timeout: offline.
    assert handlers.apply_due(later + OFFLINE_AFTER_MS + 1) >= 1
    body = sync(bob, body["next_batch"], set_presence="offline")
    assert _presence_of(body, alice.user_id)[0]["presence"] == "offline"
    assert _get(bob, alice.user_id).json_body["presence"] == "offline"


def test_get_applies_the_offline_timeout_at_read_time(alice, monkeypatch):
    _put(alice, {"presence": "online"})
    real = handlers.now_ms
    monkeypatch.setattr(handlers, "now_ms", lambda: real() + OFFLINE_AFTER_MS + 1000)
    assert _get(alice, alice.user_id).json_body["presence"] == "offline"


def _clone(client):
    c = MatrixClient()
    c.token, c.user_id, c.device_id = client.token, client.user_id, client.device_id
    return c


def test_long_poll_is_woken_by_a_room_mates_presence(alice, bob):
    _share_room(alice, bob)
    since = sync(bob)["next_batch"]
    out: dict = {}

    def run():
        try:
            started = time.monotonic()
            out["body"] = sync(_clone(bob), since, timeout=20_000)
            out["elapsed"] = time.monotonic() - started
        except BaseException as e:  # noqa: BLE001 - reported by the test
            out["error"] = e
        finally:
            connection.close()

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.5)
    assert t.is_alive(), out
    _put(alice, {"presence": "online", "status_msg": "here"})
    t.join(5)
    assert not t.is_alive(), "a room-mate's presence did not wake the long-poll"
    assert "error" not in out, out
    assert _presence_of(out["body"], alice.user_id)[0]["status_msg"] == "here"


def test_a_long_poll_keeps_its_user_seen(alice):
    from apps.presence.loop import loop
    from apps.presence.models import UserPresence

    since = sync(alice)["next_batch"]
    UserPresence.objects.filter(user_id=alice.user_id).update(last_seen_ts=1)
    out: dict = {}

    def run():
        try:
            out["body"] = sync(_clone(alice), since, timeout=3_000)
        finally:
            connection.close()

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.5)
    assert alice.user_id in loop().syncing_user_ids()
    loop().run_once()
    assert UserPresence.objects.get(user_id=alice.user_id).last_seen_ts > 1
    t.join(10)


def test_disabled_presence_stores_and_sends_nothing(alice, bob, settings):
    settings.HS = settings.HS.replace(presence_enabled=False)
    _share_room(alice, bob)
    since = sync(bob)["next_batch"]
    assert _put(alice, {"presence": "online", "status_msg": "x"}).status_code == 200
    assert _get(alice, alice.user_id).json_body == {"presence": "offline"}
    assert _get(bob, alice.user_id).json_body == {"presence": "offline"}
    assert sync(bob, since)["presence"]["events"] == []
    assert sync(bob)["presence"]["events"] == []
    from apps.presence.models import UserPresence
    assert not UserPresence.objects.exists()


def test_a_sync_on_a_process_that_does_not_write_presence_is_applied_by_the_writer(alice, bob, monkeypatch):
    from hsproject import instance

    _share_room(alice, bob)
    since = sync(bob)["next_batch"]
    real_writes = instance.writes
    monkeypatch.setattr(instance, "writes", lambda stream: stream != "presence" and real_writes(stream))
    sync(alice, set_presence="unavailable")
    monkeypatch.setattr(instance, "writes", real_writes)
    from apps.presence.models import UserPresence
    assert UserPresence.objects.get(user_id=alice.user_id).pending_state == "unavailable"
    assert _presence_of(sync(bob, since), alice.user_id) == []
    assert handlers.apply_due(handlers.now_ms()) >= 1
    row = UserPresence.objects.get(user_id=alice.user_id)
    assert row.pending_state is None and row.state == "unavailable"
    assert _presence_of(sync(bob, since), alice.user_id)[0]["presence"] == "unavailable"


def test_stream_rows_for_catch_up_and_whom_they_wake(alice, bob):
    from apps.streams import registry

    room_id = _share_room(alice, bob)
    _put(alice, {"presence": "online"})
    stream = registry.get("presence")
    rows = stream.fetch_rows(0, 10 ** 12, 100)
    [(pos, row)] = [(p, r) for p, r in rows if r["user_id"] == alice.user_id]
    assert row == {"user_id": alice.user_id, "room_ids": [room_id]}
    keys = stream.notify_keys(row)
    assert keys.user_ids == (alice.user_id,) and keys.room_ids == (room_id,)
    assert [r for p, r in stream.fetch_rows(pos, 10 ** 12, 100) if r["user_id"] == alice.user_id] == []


def test_the_writer_knows_the_next_deadline(alice):
    from apps.presence import stores
    from apps.presence.models import UserPresence

    assert stores.next_deadline() is None
    _put(alice, {"presence": "unavailable"})
    row = UserPresence.objects.get(user_id=alice.user_id)
    assert stores.next_deadline() == row.last_seen_ts + OFFLINE_AFTER_MS + 1
    _put(alice, {"presence": "offline"})
    assert stores.next_deadline() is None
