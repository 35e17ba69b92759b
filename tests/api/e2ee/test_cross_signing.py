"""POST /keys/device_signing/upload and /keys/signatures/upload (client-server API, end-to-end encryption,
"Cross-signing")."""
from __future__ import annotations

import pytest
from signedjson.sign import sign_json

from tests.api.sync.helpers import sync
from tests.conftest import assert_error

from tests.api.e2ee.helpers import (API, cross_signing_keys, new_key, query, resign, setup_device,
                                    signed_device_keys, upload)

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "correct horse battery"


def _auth(client, session=None) -> dict:
    auth = {"type": "m.login.password", "password": PASSWORD,
            "identifier": {"type": "m.id.user", "user": client.user_id}}
    if session:
        auth["session"] = session
    return auth


def _upload_cs(client, body, expect=200):
    resp = client.post(f"{API}/keys/device_signing/upload", body)
    assert resp.status_code == expect, resp.json_body
    return resp


def test_first_upload_needs_no_uia_and_is_queryable(alice, bob):
    body, *_ = cross_signing_keys(alice)
    _upload_cs(alice, body)
    mine = query(alice, {alice.user_id: []})
    assert mine["master_keys"][alice.user_id] == body["master_key"]
    assert mine["self_signing_keys"][alice.user_id] == body["self_signing_key"]
    assert mine["user_signing_keys"] == {alice.user_id: body["user_signing_key"]}
    theirs = query(bob, {alice.user_id: []})
    assert theirs["master_keys"][alice.user_id] == body["master_key"]
    assert "user_signing_keys" not in theirs or alice.user_id not in theirs["user_signing_keys"]
    # The same keys again (a retry) need no UIA either.
    _upload_cs(alice, body)


def test_replacing_keys_needs_uia(alice):
    body, *_ = cross_signing_keys(alice)
    _upload_cs(alice, body)
    new_body, *_ = cross_signing_keys(alice)
    resp = _upload_cs(alice, new_body, expect=401)
    assert resp.json_body["flows"] == [{"stages": ["m.login.password"]}]
    session = resp.json_body["session"]
    # The keys of the request that started the session are the ones stored.
    _upload_cs(alice, {"auth": _auth(alice, session)})
    assert query(alice, {alice.user_id: []})["master_keys"][alice.user_id] == new_body["master_key"]


def test_bad_uploads(alice):
    body, msk, ssk, usk = cross_signing_keys(alice)
    # Self-signing key not signed by the master key.
    bad = dict(body, self_signing_key=sign_json({k: v for k, v in body["self_signing_key"].items()
                                                 if k != "signatures"}, alice.user_id, usk))
    assert_error(alice.post(f"{API}/keys/device_signing/upload", bad), 400, "M_INVALID_SIGNATURE")
    # No master key anywhere.
    assert_error(alice.post(f"{API}/keys/device_signing/upload", {"self_signing_key": body["self_signing_key"]}),
                 400, "M_MISSING_PARAM")
    wrong_user = dict(body, master_key=dict(body["master_key"], user_id="@mallory:test.local"))
    assert_error(alice.post(f"{API}/keys/device_signing/upload", wrong_user), 400, "M_INVALID_PARAM")
    wrong_usage = dict(body, master_key=dict(body["master_key"], usage=["self_signing"]))
    assert_error(alice.post(f"{API}/keys/device_signing/upload", wrong_usage), 400, "M_INVALID_PARAM")
    assert_error(alice.post(f"{API}/keys/device_signing/upload", dict(body, master_key="x")), 400, "M_BAD_JSON")
    assert query(alice, {alice.user_id: []})["master_keys"] == {}


def test_key_named_like_a_device_is_forbidden(client_factory):
    c = client_factory()
    _, public = new_key()
    c.register("dora", device_id=public)
    body, *_ = cross_signing_keys(c)
    body["master_key"] = {"user_id": c.user_id, "usage": ["master"], "keys": {f"ed25519:{public}": public}}
    assert_error(c.post(f"{API}/keys/device_signing/upload", {"master_key": body["master_key"]}), 403, "M_FORBIDDEN")


def test_signatures_of_own_device_master_and_other_user(alice, bob):
    dev_key = setup_device(alice)
    body, msk, ssk, usk = cross_signing_keys(alice)
    _upload_cs(alice, body)
    bob_body, *_ = cross_signing_keys(bob)
    _upload_cs(bob, bob_body)

    device = query(alice, {alice.user_id: []})["device_keys"][alice.user_id][alice.device_id]
    signatures = {
        alice.user_id: {
            alice.device_id: resign(device, alice.user_id, ssk),
            next(iter(body["master_key"]["keys"].values())): resign(body["master_key"], alice.user_id, dev_key),
        },
        bob.user_id: {next(iter(bob_body["master_key"]["keys"].values())): resign(bob_body["master_key"],
                                                                                   alice.user_id, usk)},
    }
    resp = alice.post(f"{API}/keys/signatures/upload", signatures)
    assert resp.status_code == 200 and resp.json_body == {"failures": {}}, resp.json_body

    ssk_id = f"ed25519:{ssk.version}"
    for viewer in (alice, bob):
        got = query(viewer, {alice.user_id: [], bob.user_id: []})
        dev = got["device_keys"][alice.user_id][alice.device_id]
        assert ssk_id in dev["signatures"][alice.user_id]
        assert f"ed25519:{alice.device_id}" in got["master_keys"][alice.user_id]["signatures"][alice.user_id]
        bob_master_sigs = got["master_keys"][bob.user_id].get("signatures", {})
        # alice's user-signing signature of bob's master key is seen by alice only.
        assert (alice.user_id in bob_master_sigs) == (viewer is alice)


def test_signature_failures_are_reported_per_key(alice, bob):
    setup_device(alice)
    body, msk, ssk, usk = cross_signing_keys(alice)
    _upload_cs(alice, body)
    device = query(alice, {alice.user_id: []})["device_keys"][alice.user_id][alice.device_id]
    forged, _ = new_key()
    signatures = {
        alice.user_id: {alice.device_id: resign(device, alice.user_id, forged), "NOSUCHKEY": {"a": 1}},
        bob.user_id: {"whatever": {"user_id": bob.user_id}},
    }
    resp = alice.post(f"{API}/keys/signatures/upload", signatures)
    assert resp.status_code == 200, resp.json_body
    failures = resp.json_body["failures"]
    assert failures[alice.user_id][alice.device_id]["errcode"] == "M_INVALID_SIGNATURE"
    assert failures[alice.user_id]["NOSUCHKEY"]["errcode"] == "M_NOT_FOUND"
    assert failures[bob.user_id]["whatever"]["errcode"] == "M_NOT_FOUND"
    # Signed by the right key, but not the object the server holds.
    tampered = resign(dict(device, algorithms=["x"]), alice.user_id, ssk)
    resp = alice.post(f"{API}/keys/signatures/upload", {alice.user_id: {alice.device_id: tampered}})
    assert resp.json_body["failures"][alice.user_id][alice.device_id]["errcode"] == "M_INVALID_PARAM"
    dev = query(bob, {alice.user_id: []})["device_keys"][alice.user_id][alice.device_id]
    assert list(dev["signatures"][alice.user_id]) == [f"ed25519:{alice.device_id}"]
    assert_error(alice.post(f"{API}/keys/signatures/upload", {alice.user_id: []}), 400, "M_BAD_JSON")


def test_cross_signing_change_moves_device_lists(alice, bob):
    room_id = alice.post(f"{API}/createRoom", {"preset": "public_chat"}).json_body["room_id"]
    assert bob.post(f"{API}/rooms/{room_id}/join").status_code == 200
    since = sync(alice)["next_batch"]
    body, *_ = cross_signing_keys(bob)
    _upload_cs(bob, body)
    assert sync(alice, since)["device_lists"]["changed"] == [bob.user_id]


def test_device_keys_upload_keeps_cross_signing_signature(alice):
    """A device re-uploading its keys unchanged keeps the self-signing signature made of them."""
    keys, dev_key = signed_device_keys(alice)
    upload(alice, {"device_keys": keys})
    body, msk, ssk, usk = cross_signing_keys(alice)
    _upload_cs(alice, body)
    resp = alice.post(f"{API}/keys/signatures/upload",
                      {alice.user_id: {alice.device_id: resign(keys, alice.user_id, ssk)}})
    assert resp.json_body == {"failures": {}}
    upload(alice, {"device_keys": keys})
    dev = query(alice, {alice.user_id: []})["device_keys"][alice.user_id][alice.device_id]
    assert f"ed25519:{ssk.version}" in dev["signatures"][alice.user_id]
