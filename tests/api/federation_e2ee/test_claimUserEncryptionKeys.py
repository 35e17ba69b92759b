"""POST /_matrix/federation/v1/user/keys/claim (server-server API, "End-to-End Encryption"): another
server claims local devices' one-time keys, each handed out once, in upload order, then the fallback key;
signed requests only, local users only."""
from __future__ import annotations

import json

import pytest
from django.conf import settings

from tests.api.e2ee.helpers import claim, setup_device
from tests.api.federation.remote import FED, FakeRemote
from tests.api.sync.helpers import sync
from tests.conftest import assert_error

pytestmark = pytest.mark.django_db(transaction=True)

PATH = f"{FED}/v1/user/keys/claim"
ALG = "signed_curve25519"


@pytest.fixture
def fake(db):
    return FakeRemote("remote.test")


def fed_claim(fake, wanted: dict) -> dict:
    resp = fake.post(PATH, {"one_time_keys": wanted})
    assert resp.status_code == 200, resp.json_body
    return resp.json_body


def test_one_time_keys_then_the_fallback_key(alice, bob, fake):
    setup_device(bob, n_otks=2, fallback=True)
    wanted = {bob.user_id: {bob.device_id: ALG}}
    first = fed_claim(fake, wanted)
    assert set(first) == {"one_time_keys"}
    [(key_id, key)] = first["one_time_keys"][bob.user_id][bob.device_id].items()
    assert key_id == f"{ALG}:K0000"
    assert key["key"] == f"otk0000-{bob.device_id}" and bob.user_id in key["signatures"]
    # Shared with the local clients' claims: no key is handed out twice.
    assert list(claim(alice, wanted)["one_time_keys"][bob.user_id][bob.device_id]) == [f"{ALG}:K0001"]
    fallback = fed_claim(fake, wanted)["one_time_keys"][bob.user_id][bob.device_id]
    assert list(fallback) == [f"{ALG}:K0900"] and fallback[f"{ALG}:K0900"]["fallback"] is True
    assert sync(bob)["device_unused_fallback_key_types"] == []


def test_devices_without_keys_are_left_out(alice, fake):
    setup_device(alice)
    nobody = f"@nobody:{settings.HS.server_name}"
    got = fed_claim(fake, {alice.user_id: {alice.device_id: ALG, "NOSUCH": ALG}, nobody: {"D": ALG}})
    assert got == {"one_time_keys": {}}


@pytest.mark.parametrize("body,errcode", [
    ({}, "M_MISSING_PARAM"),
    ({"one_time_keys": []}, "M_BAD_JSON"),
    ({"one_time_keys": {"@a:{hs}": ["DEV"]}}, "M_BAD_JSON"),
    ({"one_time_keys": {"@a:{hs}": {"DEV": 1}}}, "M_BAD_JSON"),
    ({"one_time_keys": {"not-a-user": {"DEV": "signed_curve25519"}}}, "M_INVALID_PARAM"),
    ({"one_time_keys": {"@carol:remote.test": {"DEV": "signed_curve25519"}}}, "M_INVALID_PARAM"),
])
def test_bad_input(fake, body, errcode):
    body = json.loads(json.dumps(body).replace("{hs}", settings.HS.server_name))
    assert_error(fake.post(PATH, body), 400, errcode)


def test_needs_a_signed_request(bob, fake):
    setup_device(bob, n_otks=1)
    wanted = {"one_time_keys": {bob.user_id: {bob.device_id: ALG}}}
    assert_error(fake.post(PATH, wanted, sign=False), 401, "M_UNAUTHORIZED")
    # Nothing was claimed by the refused request.
    assert list(fed_claim(fake, wanted["one_time_keys"])["one_time_keys"][bob.user_id][bob.device_id]) == \
        [f"{ALG}:K0000"]
