"""A local user's device changes reach the servers sharing a room with them (server-server API, "Device
Management"): `m.device_list_update` for a device created, given keys, renamed or deleted, chained by
`stream_id` / `prev_id`; `m.signing_key_update` for new cross-signing keys; nothing for servers that
share no room, nor while sending is off."""
from __future__ import annotations

import pytest

from apps.federation_sender.models import OutboundEdu
from tests.api.e2ee.helpers import API, cross_signing_keys, login, resign, signed_device_keys
from tests.api.federation.remote import FED, q
from tests.api.rooms.helpers import create_room

pytestmark = pytest.mark.django_db(transaction=True)

UPDATE = "m.device_list_update"


def delete_device(client, device_id: str) -> None:
    auth = {"type": "m.login.password", "password": "correct horse battery",
            "identifier": {"type": "m.id.user", "user": client.user_id}}
    resp = client.delete(f"{API}/devices/{device_id}", {"auth": auth})
    if resp.status_code == 401:
        resp = client.delete(f"{API}/devices/{device_id}", {"auth": {**auth, "session": resp.json_body["session"]}})
    assert resp.status_code == 200, resp.json_body


def test_a_device_lifecycle_as_a_chain_of_updates(alice, client_factory, remote, shared_room, sending):
    phone = login(client_factory, alice)
    keys, key = signed_device_keys(phone)
    assert phone.post(f"{API}/keys/upload", {"device_keys": keys}).status_code == 200
    assert phone.put(f"{API}/devices/{phone.device_id}", {"display_name": "phone"}).status_code == 200
    delete_device(alice, phone.device_id)

    edus = [e for e in remote.edus(UPDATE) if e["device_id"] == phone.device_id]
    assert len(edus) == 4
    created, uploaded, renamed, deleted = edus
    assert all(e["user_id"] == alice.user_id for e in edus)
    # Created at login: no keys yet.
    assert created["deleted"] is False and "keys" not in created
    assert uploaded["deleted"] is False and uploaded["keys"] == keys
    assert renamed["device_display_name"] == "phone" and renamed["keys"] == keys
    assert deleted["deleted"] is True and "keys" not in deleted and "device_display_name" not in deleted
    # One sequence per user: each update names the one before it.
    ids = [e["stream_id"] for e in edus]
    assert ids == sorted(ids) and len(set(ids)) == 4
    assert [e["prev_id"] for e in edus[1:]] == [[i] for i in ids[:-1]]
    assert all(isinstance(p, int) for p in created["prev_id"])
    # The outbox is empty once the remote has taken them.
    assert not OutboundEdu.objects.exists()
    # The snapshot's stream_id is the last of the chain (what a server that missed one resyncs from).
    devices = remote.fake.get(f"{FED}/v1/user/devices/{q(alice.user_id)}").json_body
    assert devices["stream_id"] == ids[-1]
    assert phone.device_id not in {d["device_id"] for d in devices["devices"]}


def test_several_devices_deleted_at_once_each_have_their_own_update(alice, client_factory, remote, shared_room,
                                                                     sending):
    others = [login(client_factory, alice).device_id for _ in range(3)]
    auth = {"type": "m.login.password", "password": "correct horse battery",
            "identifier": {"type": "m.id.user", "user": alice.user_id}}
    resp = alice.post(f"{API}/delete_devices", {"devices": others, "auth": auth})
    if resp.status_code == 401:
        resp = alice.post(f"{API}/delete_devices",
                          {"devices": others, "auth": {**auth, "session": resp.json_body["session"]}})
    assert resp.status_code == 200, resp.json_body
    deleted = [e for e in remote.edus(UPDATE) if e["deleted"]]
    assert sorted(e["device_id"] for e in deleted) == sorted(others)
    ids = [e["stream_id"] for e in deleted]
    assert len(set(ids)) == 3
    assert [e["prev_id"] for e in deleted[1:]] == [[i] for i in ids[:-1]]


def test_cross_signing_keys_and_signatures(alice, remote, shared_room, sending):
    keys, _ = signed_device_keys(alice)
    assert alice.post(f"{API}/keys/upload", {"device_keys": keys}).status_code == 200
    body, _msk, ssk, _usk = cross_signing_keys(alice)
    assert alice.post(f"{API}/keys/device_signing/upload", body).status_code == 200
    [update] = remote.edus("m.signing_key_update")
    assert update == {"user_id": alice.user_id, "master_key": body["master_key"],
                      "self_signing_key": body["self_signing_key"]}
    # The user-signing key is never sent.
    assert body["user_signing_key"] not in update.values()
    # alice's self-signing key signs her device: the device's update carries the new signature.
    signed = resign(keys, alice.user_id, ssk)
    assert alice.post(f"{API}/keys/signatures/upload", {alice.user_id: {alice.device_id: signed}}).status_code == 200
    last = remote.edus(UPDATE)[-1]
    assert last["device_id"] == alice.device_id and last["keys"] == signed


def test_only_servers_sharing_a_room_hear(alice, client_factory, remote, other_remote, shared_room, sending):
    # The other server has no user in alice's rooms yet.
    lonely = create_room(alice, preset="public_chat")
    login(client_factory, alice)
    assert len(remote.edus(UPDATE)) == 1
    assert other_remote.transactions() == []
    # Once a user of the other server joins one of alice's rooms, it hears of her devices (the join sends
    # it her device list: two devices), and of her next change.
    other_remote.fake.join(lonely, other_remote.user("dan"))
    assert len(other_remote.edus(UPDATE)) == 2
    login(client_factory, alice)
    assert len(other_remote.edus(UPDATE)) == 3 and len(remote.edus(UPDATE)) == 2


def test_nothing_is_queued_while_sending_is_off(alice, client_factory, remote, shared_room):
    keys, _ = signed_device_keys(alice)
    assert alice.post(f"{API}/keys/upload", {"device_keys": keys}).status_code == 200
    login(client_factory, alice)
    assert not OutboundEdu.objects.exists() and remote.transactions() == []
