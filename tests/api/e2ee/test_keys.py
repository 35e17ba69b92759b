"""POST /keys/upload, /keys/query, /keys/claim (client-server API, end-to-end encryption, "Key management
API"), through HTTP with keys signed as a client signs them."""
from __future__ import annotations

import pytest

from tests.conftest import TIER, assert_error

from tests.api.e2ee.helpers import (API, claim, login, new_key, one_time_keys, query, resign, setup_device,
                                    signed_device_keys, upload)

pytestmark = pytest.mark.django_db(transaction=True)


# --- upload -----------------------------------------------------------------------------------------------

def test_upload_counts_one_time_keys(alice):
    keys, key = signed_device_keys(alice)
    body = upload(alice, {"device_keys": keys, "one_time_keys": one_time_keys(alice, key, 5)})
    assert body == {"one_time_key_counts": {"signed_curve25519": 5}}
    # The same keys again are not counted twice; new ones are.
    body = upload(alice, {"one_time_keys": one_time_keys(alice, key, 7)})
    assert body["one_time_key_counts"] == {"signed_curve25519": 7}
    body = upload(alice, {"one_time_keys": {"curve25519:AAAA": "plainkey"}})
    assert body["one_time_key_counts"] == {"signed_curve25519": 7, "curve25519": 1}


def test_upload_nothing_reports_zero(alice):
    assert upload(alice, {}) == {"one_time_key_counts": {"signed_curve25519": 0}}


@pytest.mark.parametrize("change, errcode", [
    (lambda k, c: k.update(user_id="@mallory:localhost"), "M_INVALID_PARAM"),
    (lambda k, c: k.update(device_id="OTHERDEVICE"), "M_INVALID_PARAM"),
    (lambda k, c: k["keys"].update({f"curve25519:{c.device_id}": "tampered"}), "M_INVALID_PARAM"),
    (lambda k, c: k.pop("signatures"), "M_BAD_JSON"),
    (lambda k, c: k.update(algorithms="m.megolm.v1.aes-sha2"), "M_BAD_JSON"),
    (lambda k, c: k.update(keys=[]), "M_BAD_JSON"),
    (lambda k, c: k["keys"].pop(f"ed25519:{c.device_id}"), "M_INVALID_PARAM"),
])
def test_upload_rejects_bad_device_keys(alice, change, errcode):
    keys, _ = signed_device_keys(alice)
    change(keys, alice)
    assert_error(alice.post(f"{API}/keys/upload", {"device_keys": keys}), 400, errcode)
    assert query(alice, {alice.user_id: []})["device_keys"] == {alice.user_id: {}}


def test_upload_signed_by_another_key_is_refused(alice):
    keys, _ = signed_device_keys(alice)
    other, _ = new_key(alice.device_id)
    forged, _ = signed_device_keys(alice, other)
    keys["signatures"] = forged["signatures"]
    assert_error(alice.post(f"{API}/keys/upload", {"device_keys": keys}), 400, "M_INVALID_PARAM")


def test_device_keys_cannot_change_but_may_be_resigned(alice):
    keys, key = signed_device_keys(alice)
    upload(alice, {"device_keys": keys})
    upload(alice, {"device_keys": keys})  # idempotent
    other, _ = signed_device_keys(alice)
    assert_error(alice.post(f"{API}/keys/upload", {"device_keys": other}), 400, "M_INVALID_PARAM")
    # The same identity keys with one more signature (e.g. after a cross-signing reset) are accepted.
    extra, _ = new_key("EXTRA")
    resigned = resign(keys, alice.user_id, extra)
    upload(alice, {"device_keys": resigned})
    got = query(alice, {alice.user_id: []})["device_keys"][alice.user_id][alice.device_id]
    assert got["keys"] == keys["keys"] and "ed25519:EXTRA" in got["signatures"][alice.user_id]


def test_one_time_key_id_reused_with_another_key_is_refused(alice):
    key = setup_device(alice, n_otks=1)
    otks = one_time_keys(alice, key, 1)
    otks["signed_curve25519:K0000"]["key"] = "different"
    assert_error(alice.post(f"{API}/keys/upload", {"one_time_keys": otks}), 400, "M_INVALID_PARAM")


@pytest.mark.parametrize("body, errcode", [
    ({"one_time_keys": {"nocolon": {"key": "x"}}}, "M_INVALID_PARAM"),
    ({"one_time_keys": {"signed_curve25519:A": 5}}, "M_BAD_JSON"),
    ({"one_time_keys": []}, "M_BAD_JSON"),
    ({"fallback_keys": {"signed_curve25519:A": {"key": "a"}, "signed_curve25519:B": {"key": "b"}}},
     "M_INVALID_PARAM"),
    ({"device_keys": None}, "M_BAD_JSON"),
])
def test_upload_rejects_bad_key_maps(alice, body, errcode):
    assert_error(alice.post(f"{API}/keys/upload", body), 400, errcode)


def test_upload_needs_auth(mx):
    assert_error(mx.post(f"{API}/keys/upload", {}, token=None), 401, "M_MISSING_TOKEN")


# --- query ------------------------------------------------------------------------------------------------

def test_query_returns_device_keys_with_display_name(alice, bob, client_factory):
    bob.put(f"{API}/devices/{bob.device_id}", {"display_name": "Bob's phone"})
    bob_keys, _ = signed_device_keys(bob)
    upload(bob, {"device_keys": bob_keys})
    bob2 = login(client_factory, bob)
    setup_device(bob2)
    got = query(alice, {bob.user_id: []})
    devices = got["device_keys"][bob.user_id]
    assert set(devices) == {bob.device_id, bob2.device_id}
    mine = devices[bob.device_id]
    assert mine["unsigned"] == {"device_display_name": "Bob's phone"}
    assert {k: v for k, v in mine.items() if k != "unsigned"} == bob_keys
    assert got["failures"] == {}
    # Only the devices asked for.
    got = query(alice, {bob.user_id: [bob2.device_id, "NOSUCHDEVICE"]})
    assert set(got["device_keys"][bob.user_id]) == {bob2.device_id}


def test_query_unknown_and_remote_users(alice):
    nobody = "@nobody:" + alice.user_id.split(":", 1)[1]
    # A remote server that cannot be reached (nothing listens on that loopback port) is a failure.
    got = query(alice, {nobody: [], "@carol:127.0.0.1:1": []})
    assert got["device_keys"] == {nobody: {}}
    assert set(got["failures"]) == {"127.0.0.1:1"}


@pytest.mark.parametrize("body, errcode", [
    ({}, "M_MISSING_PARAM"),
    ({"device_keys": []}, "M_BAD_JSON"),
    ({"device_keys": {"not-a-user": []}}, "M_INVALID_PARAM"),
    ({"device_keys": {"@a:localhost": "DEV"}}, "M_BAD_JSON"),
])
def test_query_bad_input(alice, body, errcode):
    assert_error(alice.post(f"{API}/keys/query", body), 400, errcode)


def test_deleted_device_keys_disappear(alice, bob, client_factory):
    bob2 = login(client_factory, bob)
    setup_device(bob2, n_otks=2, fallback=True)
    assert bob2.device_id in query(alice, {bob.user_id: []})["device_keys"][bob.user_id]
    resp = bob.delete(f"{API}/devices/{bob2.device_id}",
                      {"auth": {"type": "m.login.password", "password": "correct horse battery",
                                "identifier": {"type": "m.id.user", "user": bob.user_id}}})
    assert resp.status_code in (200, 401), resp.json_body
    if resp.status_code == 401:
        session = resp.json_body["session"]
        resp = bob.delete(f"{API}/devices/{bob2.device_id}",
                          {"auth": {"type": "m.login.password", "password": "correct horse battery",
                                    "identifier": {"type": "m.id.user", "user": bob.user_id}, "session": session}})
    assert resp.status_code == 200, resp.json_body
    assert query(alice, {bob.user_id: []})["device_keys"][bob.user_id] == {}
    assert claim(alice, {bob.user_id: {bob2.device_id: "signed_curve25519"}})["one_time_keys"] == {}
    # The device ID may be used again, with new keys.
    bob3 = login(client_factory, bob, device_id=bob2.device_id)
    setup_device(bob3)
    assert bob3.device_id in query(alice, {bob.user_id: []})["device_keys"][bob.user_id]


def test_logout_deletes_the_device_keys(alice, bob):
    setup_device(bob, n_otks=1)
    assert bob.post(f"{API}/logout").status_code == 200
    assert query(alice, {bob.user_id: []})["device_keys"][bob.user_id] == {}


# --- claim ------------------------------------------------------------------------------------------------

def test_claim_hands_each_key_out_once_in_upload_order(alice, bob):
    key = setup_device(bob)
    upload(bob, {"one_time_keys": one_time_keys(bob, key, 2, start=0)})
    upload(bob, {"one_time_keys": one_time_keys(bob, key, 1, start=10)})
    seen = []
    for _ in range(3):
        got = claim(alice, {bob.user_id: {bob.device_id: "signed_curve25519"}})
        ((key_id, obj),) = got["one_time_keys"][bob.user_id][bob.device_id].items()
        assert obj["signatures"][bob.user_id]
        seen.append(key_id)
    assert set(seen[:2]) == {"signed_curve25519:K0000", "signed_curve25519:K0001"}
    assert seen[2] == "signed_curve25519:K0010"
    got = claim(alice, {bob.user_id: {bob.device_id: "signed_curve25519"}})
    assert got == {"one_time_keys": {}, "failures": {}}
    assert upload(bob, {})["one_time_key_counts"] == {"signed_curve25519": 0}


def test_claim_falls_back_and_marks_the_fallback_used(alice, bob):
    from tests.api.sync.helpers import sync

    setup_device(bob, n_otks=1, fallback=True)
    assert sync(bob)["device_unused_fallback_key_types"] == ["signed_curve25519"]
    first = claim(alice, {bob.user_id: {bob.device_id: "signed_curve25519"}})["one_time_keys"]
    assert list(first[bob.user_id][bob.device_id]) == ["signed_curve25519:K0000"]
    for _ in range(2):  # the fallback key is given out again until replaced
        got = claim(alice, {bob.user_id: {bob.device_id: "signed_curve25519"}})["one_time_keys"]
        ((key_id, obj),) = got[bob.user_id][bob.device_id].items()
        assert key_id == "signed_curve25519:K0900" and obj["fallback"] is True
    body = sync(bob)
    assert body["device_unused_fallback_key_types"] == []
    assert body["device_one_time_keys_count"] == {"signed_curve25519": 0}


def test_claim_remote_and_unknown(alice):
    nobody = "@nobody:" + alice.user_id.split(":", 1)[1]
    got = claim(alice, {"@x:127.0.0.1:1": {"D": "signed_curve25519"}, nobody: {"D": "signed_curve25519"}})
    assert got["one_time_keys"] == {} and set(got["failures"]) == {"127.0.0.1:1"}


@pytest.mark.parametrize("body, errcode", [
    ({}, "M_MISSING_PARAM"),
    ({"one_time_keys": {"@a:localhost": ["D"]}}, "M_BAD_JSON"),
    ({"one_time_keys": {"@a:localhost": {"D": 1}}}, "M_BAD_JSON"),
    ({"one_time_keys": {"bad": {}}}, "M_INVALID_PARAM"),
])
def test_claim_bad_input(alice, body, errcode):
    assert_error(alice.post(f"{API}/keys/claim", body), 400, errcode)


def test_guests_may_upload_query_and_claim_but_not_back_up(mx, alice, settings):
    """Spec, "Guest Access": /keys/upload, /keys/query and /keys/claim are open to guests."""
    settings.HS = settings.HS.replace(allow_guest_access=True)
    resp = mx.post(f"{API}/register?kind=guest", {}, token=None)
    assert resp.status_code == 200, resp.json_body
    mx.token, mx.user_id, mx.device_id = (resp.json_body[k] for k in ("access_token", "user_id", "device_id"))
    setup_device(mx, n_otks=1)
    assert mx.device_id in query(mx, {mx.user_id: []})["device_keys"][mx.user_id]
    assert claim(alice, {mx.user_id: {mx.device_id: "signed_curve25519"}})["one_time_keys"][mx.user_id]
    assert_error(mx.get(f"{API}/room_keys/version"), 403, "M_GUEST_ACCESS_FORBIDDEN")


def test_nul_characters_are_refused(alice):
    assert_error(alice.post(f"{API}/keys/upload", {"one_time_keys": {"signed_curve25519:A\u0000": {"key": "k"}}}),
                 400, "M_BAD_JSON")
    assert_error(alice.post(f"{API}/keys/claim", {"one_time_keys": {alice.user_id: {"D\u0000": "x"}}}),
                 400, "M_BAD_JSON")


@pytest.mark.skipif(TIER != "services", reason="concurrent writers need PostgreSQL (SQLite locks the table)")
def test_concurrent_claims_never_hand_out_a_key_twice(alice, bob):
    import threading

    from django.db import connection

    from tests.conftest import MatrixClient

    setup_device(bob, n_otks=12)
    wanted = {"one_time_keys": {bob.user_id: {bob.device_id: "signed_curve25519"}}}
    got: list[str] = []
    errors: list = []

    def claimer():
        c = MatrixClient()
        c.token, c.user_id = alice.token, alice.user_id
        try:
            for _ in range(5):
                resp = c.post(f"{API}/keys/claim", wanted)
                assert resp.status_code == 200, resp.json_body
                got.extend(resp.json_body["one_time_keys"].get(bob.user_id, {}).get(bob.device_id, {}))
        except BaseException as e:  # noqa: BLE001 - reported by the test
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=claimer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert len(got) == 12 and len(set(got)) == 12
