"""POST /_matrix/federation/v1/user/keys/query (server-server API, "End-to-End Encryption"): another
server downloads local users' device keys and cross-signing keys, as a local client would, minus what
only the users themselves see; signed requests only, local users only."""
from __future__ import annotations

import pytest
from django.conf import settings

from tests.api.e2ee.helpers import API, cross_signing_keys, login, query, resign, setup_device
from tests.api.federation.remote import FED, FakeRemote
from tests.conftest import assert_error

pytestmark = pytest.mark.django_db(transaction=True)

PATH = f"{FED}/v1/user/keys/query"


@pytest.fixture
def fake(db):
    return FakeRemote("remote.test")


def fed_query(fake, users: dict) -> dict:
    resp = fake.post(PATH, {"device_keys": users})
    assert resp.status_code == 200, resp.json_body
    return resp.json_body


def test_the_keys_a_local_client_sees(alice, bob, client_factory, fake):
    bob.put(f"{API}/devices/{bob.device_id}", {"display_name": "Bob's phone"})
    setup_device(bob)
    bob2 = login(client_factory, bob)
    setup_device(bob2)
    body, _msk, _ssk, _usk = cross_signing_keys(bob)
    assert bob.post(f"{API}/keys/device_signing/upload", body).status_code == 200

    got = fed_query(fake, {bob.user_id: []})
    assert set(got) == {"device_keys", "master_keys", "self_signing_keys"}
    # The same device keys, display names included, as bob's own server shows to a local user.
    assert got["device_keys"] == query(alice, {bob.user_id: []})["device_keys"]
    assert set(got["device_keys"][bob.user_id]) == {bob.device_id, bob2.device_id}
    assert got["device_keys"][bob.user_id][bob.device_id]["unsigned"] == {"device_display_name": "Bob's phone"}
    assert got["master_keys"] == {bob.user_id: body["master_key"]}
    assert got["self_signing_keys"] == {bob.user_id: body["self_signing_key"]}
    # Only the devices asked for.
    assert set(fed_query(fake, {bob.user_id: [bob2.device_id]})["device_keys"][bob.user_id]) == {bob2.device_id}


def test_a_local_users_signature_of_another_master_key_stays_private(alice, bob, fake):
    """alice's user-signing signature of bob's master key is for alice only (client-server API,
    "Cross-signing"): another server sees bob's master key with bob's signatures only."""
    bob_body, *_ = cross_signing_keys(bob)
    assert bob.post(f"{API}/keys/device_signing/upload", bob_body).status_code == 200
    alice_body, _msk, _ssk, usk = cross_signing_keys(alice)
    assert alice.post(f"{API}/keys/device_signing/upload", alice_body).status_code == 200
    signed = resign(bob_body["master_key"], alice.user_id, usk)
    mpub = next(iter(bob_body["master_key"]["keys"].values()))
    resp = alice.post(f"{API}/keys/signatures/upload", {bob.user_id: {mpub: signed}})
    assert resp.status_code == 200 and resp.json_body["failures"] == {}
    assert alice.user_id in query(alice, {bob.user_id: []})["master_keys"][bob.user_id]["signatures"]

    got = fed_query(fake, {bob.user_id: [], alice.user_id: []})
    assert alice.user_id not in got["master_keys"][bob.user_id].get("signatures", {})
    assert "user_signing_keys" not in got


def test_unknown_local_user_has_no_devices(fake):
    nobody = f"@nobody:{settings.HS.server_name}"
    assert fed_query(fake, {nobody: []}) == {"device_keys": {nobody: {}}, "master_keys": {}, "self_signing_keys": {}}


@pytest.mark.parametrize("body,status,errcode", [
    ({}, 400, "M_MISSING_PARAM"),
    ({"device_keys": []}, 400, "M_BAD_JSON"),
    ({"device_keys": {"@a:{hs}": "DEV"}}, 400, "M_BAD_JSON"),
    ({"device_keys": {"@a:{hs}": [1]}}, 400, "M_BAD_JSON"),
    ({"device_keys": {"not-a-user": []}}, 400, "M_INVALID_PARAM"),
    # Spec: "Requested users must be local to the receiving homeserver."
    ({"device_keys": {"@carol:remote.test": []}}, 400, "M_INVALID_PARAM"),
    ({"device_keys": {"@a:{hs}": ["A\u0000B"]}}, 400, "M_BAD_JSON"),
])
def test_bad_input(fake, body, status, errcode):
    import json

    body = json.loads(json.dumps(body).replace("{hs}", settings.HS.server_name))
    assert_error(fake.post(PATH, body), status, errcode)


def test_needs_a_signed_request(alice, fake):
    assert_error(fake.post(PATH, {"device_keys": {alice.user_id: []}}, sign=False), 401, "M_UNAUTHORIZED")
    impostor = FakeRemote("remote.test", register_key=False)  # the same key ID, another key
    assert_error(impostor.post(PATH, {"device_keys": {alice.user_id: []}}), 401, "M_UNAUTHORIZED")
