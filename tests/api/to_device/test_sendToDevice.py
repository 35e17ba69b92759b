"""sendToDevice and the `to_device` section of /sync: delivery to the addressed devices, `*`, unknown
devices, txn idempotency, at most 100 per sync with a token that skips nothing, deletion once
acknowledged, long-poll wake-up."""
from __future__ import annotations

import threading
import time
import uuid

import pytest

from apps.to_device.models import DeviceInboxMessage
from tests.api.sync.helpers import API, sync
from tests.conftest import MatrixClient, assert_error

pytestmark = pytest.mark.django_db(transaction=True)


def send(client, messages, *, event_type="org.example.ping", txn_id=None):
    return client.put(f"{API}/sendToDevice/{event_type}/{txn_id or uuid.uuid4().hex}", {"messages": messages})


def login(user: MatrixClient) -> MatrixClient:
    c = MatrixClient()
    resp = c.post(f"{API}/login", {"type": "m.login.password", "password": "correct horse battery",
                                   "identifier": {"type": "m.id.user", "user": user.user_id}}, token=None)
    assert resp.status_code == 200, resp.json_body
    c.token, c.user_id, c.device_id = (resp.json_body[k] for k in ("access_token", "user_id", "device_id"))
    return c


def test_message_reaches_the_addressed_device_only(alice, bob):
    bob2 = login(bob)
    since1, since2 = sync(bob)["next_batch"], sync(bob2)["next_batch"]
    assert send(alice, {bob.user_id: {bob.device_id: {"n": 1}}}).json_body == {}
    got = sync(bob, since1)["to_device"]["events"]
    assert got == [{"sender": alice.user_id, "type": "org.example.ping", "content": {"n": 1}}]
    assert sync(bob2, since2)["to_device"]["events"] == []


def test_star_reaches_every_device_and_unknown_devices_are_dropped(alice, bob):
    bob2 = login(bob)
    since1, since2 = sync(bob)["next_batch"], sync(bob2)["next_batch"]
    assert send(alice, {bob.user_id: {"*": {"all": True}}}).status_code == 200
    assert send(alice, {bob.user_id: {"NOSUCHDEVICE": {"x": 1}}}).status_code == 200
    assert [e["content"] for e in sync(bob, since1)["to_device"]["events"]] == [{"all": True}]
    assert [e["content"] for e in sync(bob2, since2)["to_device"]["events"]] == [{"all": True}]
    assert not DeviceInboxMessage.objects.filter(device_id="NOSUCHDEVICE").exists()


def test_same_txn_id_sends_once(alice, bob):
    since = sync(bob)["next_batch"]
    for _ in range(2):
        assert send(alice, {bob.user_id: {bob.device_id: {"n": 1}}}, txn_id="t1").status_code == 200
    assert len(sync(bob, since)["to_device"]["events"]) == 1
    # The same txn id from another device of the sender is another request.
    since = sync(bob)["next_batch"]
    assert send(login(alice), {bob.user_id: {bob.device_id: {"n": 2}}}, txn_id="t1").status_code == 200
    assert [e["content"] for e in sync(bob, since)["to_device"]["events"]] == [{"n": 2}]


def test_initial_sync_lists_pending_in_order_and_ack_deletes(alice, bob):
    for i in range(3):
        send(alice, {bob.user_id: {bob.device_id: {"i": i}}})
    first = sync(bob)
    assert [e["content"]["i"] for e in first["to_device"]["events"]] == [0, 1, 2]
    # Not acknowledged yet: an initial sync again sees them again.
    assert len(sync(bob)["to_device"]["events"]) == 3
    second = sync(bob, first["next_batch"])
    assert second["to_device"]["events"] == []
    assert not DeviceInboxMessage.objects.filter(user_id=bob.user_id).exists()


def test_at_most_100_per_sync_and_the_rest_next_time(alice, bob):
    since = sync(bob)["next_batch"]
    for i in range(3):
        send(alice, {bob.user_id: {bob.device_id: {"i": i}}})
    from apps.to_device import sync as to_device_sync
    old = to_device_sync.MAX_PER_SYNC
    to_device_sync.MAX_PER_SYNC = 2  # the same rule as 100, with fewer requests
    try:
        first = sync(bob, since)
        assert [e["content"]["i"] for e in first["to_device"]["events"]] == [0, 1]
        second = sync(bob, first["next_batch"])
        assert [e["content"]["i"] for e in second["to_device"]["events"]] == [2]
        third = sync(bob, second["next_batch"])
        assert third["to_device"]["events"] == []
    finally:
        to_device_sync.MAX_PER_SYNC = old
    assert not DeviceInboxMessage.objects.filter(user_id=bob.user_id).exists()


def test_101_messages_two_syncs(alice, bob):
    since = sync(bob)["next_batch"]
    for i in range(101):
        send(alice, {bob.user_id: {bob.device_id: {"i": i}}})
    first = sync(bob, since)
    assert len(first["to_device"]["events"]) == 100
    second = sync(bob, first["next_batch"])
    assert [e["content"]["i"] for e in second["to_device"]["events"]] == [100]


def test_remote_and_bad_recipients(alice, bob):
    assert send(alice, {"@someone:elsewhere.example": {"DEV": {"x": 1}}}).status_code == 200
    assert not DeviceInboxMessage.objects.exists()
    assert_error(send(alice, {"not-a-user": {"D": {}}}), 400, "M_INVALID_PARAM")
    assert_error(send(alice, {bob.user_id: ["D"]}), 400, "M_BAD_JSON")
    assert_error(send(alice, {bob.user_id: {"D": "text"}}), 400, "M_BAD_JSON")
    assert_error(alice.put(f"{API}/sendToDevice/t/1", {}), 400, "M_MISSING_PARAM")
    assert_error(alice.put(f"{API}/sendToDevice/t/1", {"messages": []}), 400, "M_BAD_JSON")
    assert_error(MatrixClient().put(f"{API}/sendToDevice/t/1", {"messages": {}}), 401, "M_MISSING_TOKEN")


def test_a_long_poll_wakes_for_its_device(alice, bob):
    since = sync(bob)["next_batch"]
    result = {}

    def poll():
        c = MatrixClient()
        c.token = bob.token
        result["body"] = sync(c, since, timeout=5000)
    t = threading.Thread(target=poll)
    started = time.monotonic()
    t.start()
    time.sleep(0.3)
    send(alice, {bob.user_id: {bob.device_id: {"wake": 1}}})
    t.join(10)
    assert [e["content"] for e in result["body"]["to_device"]["events"]] == [{"wake": 1}]
    assert time.monotonic() - started < 4


def test_a_deleted_devices_messages_go_with_it(alice, bob):
    bob2 = login(bob)
    send(alice, {bob.user_id: {"*": {"x": 1}}})
    assert DeviceInboxMessage.objects.filter(device_id=bob2.device_id).count() == 1
    assert bob2.post(f"{API}/logout", {}).status_code == 200
    assert not DeviceInboxMessage.objects.filter(device_id=bob2.device_id).exists()
    assert DeviceInboxMessage.objects.filter(device_id=bob.device_id).count() == 1


def test_old_txn_ids_are_forgotten(alice, bob):
    from apps.to_device.models import ToDeviceTxn
    from apps.to_device.stores import TXN_RETENTION_MS

    send(alice, {bob.user_id: {bob.device_id: {"n": 1}}}, txn_id="old")
    ToDeviceTxn.objects.filter(txn_id="old").update(created_ts=0)
    send(alice, {bob.user_id: {bob.device_id: {"n": 2}}}, txn_id="new")
    assert list(ToDeviceTxn.objects.values_list("txn_id", flat=True)) == ["new"]
    assert TXN_RETENTION_MS >= 3_600_000


def test_messages_from_another_server_are_queued_once(bob):
    """The entry point the federation app calls for an inbound m.direct_to_device EDU."""
    from apps.to_device.handlers import receive_remote

    since = sync(bob)["next_batch"]
    msgs = {bob.user_id: {"*": {"k": 1}}, "@other:remote.example": {"D": {"k": 2}}}
    receive_remote("remote.example", "@carol:remote.example", "m.room_key_request", "msg1", msgs)
    receive_remote("remote.example", "@carol:remote.example", "m.room_key_request", "msg1", msgs)
    # A server may only send for its own users.
    receive_remote("evil.example", "@carol:remote.example", "m.room_key_request", "msg2", msgs)
    got = sync(bob, since)["to_device"]["events"]
    assert got == [{"sender": "@carol:remote.example", "type": "m.room_key_request", "content": {"k": 1}}]
