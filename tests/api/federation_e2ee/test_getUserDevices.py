"""GET /_matrix/federation/v1/user/devices/{userId} (server-server API, "Device Management"): a local
user's devices with their keys and display names, the cross-signing keys, and a `stream_id` that moves
with every device change; signed requests only, local users only."""
from __future__ import annotations

import pytest
from django.conf import settings

from tests.api.e2ee.helpers import API, cross_signing_keys, login, resign, setup_device, signed_device_keys
from tests.api.federation.remote import FED, FakeRemote, q
from tests.conftest import assert_error

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def fake(db):
    return FakeRemote("remote.test")


def devices_of(fake, user_id: str) -> dict:
    resp = fake.get(f"{FED}/v1/user/devices/{q(user_id)}")
    assert resp.status_code == 200, resp.json_body
    return resp.json_body


def test_devices_keys_names_and_cross_signing_keys(alice, client_factory, fake):
    alice.put(f"{API}/devices/{alice.device_id}", {"display_name": "Alice's phone"})
    keys, _ = signed_device_keys(alice)
    assert alice.post(f"{API}/keys/upload", {"device_keys": keys}).status_code == 200
    laptop = login(client_factory, alice)  # a device without keys yet
    body, _msk, ssk, _usk = cross_signing_keys(alice)
    assert alice.post(f"{API}/keys/device_signing/upload", body).status_code == 200
    # alice's self-signing key signs her phone: others see the signature in the device's keys.
    signed = resign(keys, alice.user_id, ssk)
    assert alice.post(f"{API}/keys/signatures/upload",
                      {alice.user_id: {alice.device_id: signed}}).status_code == 200

    got = devices_of(fake, alice.user_id)
    assert set(got) == {"user_id", "stream_id", "devices", "master_key", "self_signing_key"}
    assert got["user_id"] == alice.user_id and isinstance(got["stream_id"], int) and got["stream_id"] > 0
    by_id = {d["device_id"]: d for d in got["devices"]}
    assert set(by_id) == {alice.device_id, laptop.device_id}
    phone = by_id[alice.device_id]
    assert phone["device_display_name"] == "Alice's phone"
    assert phone["keys"] == signed and "unsigned" not in phone["keys"]
    assert set(phone["keys"]["signatures"][alice.user_id]) == {f"ed25519:{alice.device_id}", f"ed25519:{ssk.version}"}
    # A device with no keys uploaded is listed (to-device messages can reach it) without `keys`.
    assert "keys" not in by_id[laptop.device_id]
    assert got["master_key"] == body["master_key"]
    assert got["self_signing_key"] == body["self_signing_key"]
    # The user-signing key is the user's own business.
    assert body["user_signing_key"] not in got.values()


def test_stream_id_moves_with_each_device_change(alice, client_factory, fake):
    first = devices_of(fake, alice.user_id)["stream_id"]
    setup_device(alice)
    second = devices_of(fake, alice.user_id)["stream_id"]
    assert second > first
    login(client_factory, alice)
    assert devices_of(fake, alice.user_id)["stream_id"] > second


def test_unknown_local_user_has_no_devices(fake):
    nobody = f"@nobody:{settings.HS.server_name}"
    assert devices_of(fake, nobody) == {"user_id": nobody, "stream_id": 0, "devices": []}


def test_only_local_users(fake):
    assert_error(fake.get(f"{FED}/v1/user/devices/{q('@carol:remote.test')}"), 400, "M_INVALID_PARAM")
    assert_error(fake.get(f"{FED}/v1/user/devices/not-a-user"), 400, "M_INVALID_PARAM")


def test_needs_a_signed_request(alice, fake):
    path = f"{FED}/v1/user/devices/{q(alice.user_id)}"
    assert_error(fake.get(path, sign=False), 401, "M_UNAUTHORIZED")
    # Signed with another key under the same key ID.
    impostor = FakeRemote("remote.test", register_key=False)
    assert_error(impostor.get(path), 401, "M_UNAUTHORIZED")
