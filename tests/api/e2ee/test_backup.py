"""Server-side key backups: room_keys/version and room_keys/keys at all three levels (client-server API,
end-to-end encryption, "Server-side key backups")."""
from __future__ import annotations

import pytest

from tests.conftest import assert_error

from tests.api.e2ee.helpers import API

pytestmark = pytest.mark.django_db

ALGORITHM = "m.megolm_backup.v1.curve25519-aes-sha2"
ROOM = "!room:test.local"


def _create(client, public_key="pk1") -> str:
    resp = client.post(f"{API}/room_keys/version", {"algorithm": ALGORITHM, "auth_data": {"public_key": public_key}})
    assert resp.status_code == 200, resp.json_body
    return resp.json_body["version"]


def _key(fmi=0, fwd=0, verified=False, data="x") -> dict:
    return {"first_message_index": fmi, "forwarded_count": fwd, "is_verified": verified,
            "session_data": {"ciphertext": data, "ephemeral": "e", "mac": "m"}}


def test_versions_roundtrip(alice, bob):
    assert_error(alice.get(f"{API}/room_keys/version"), 404, "M_NOT_FOUND")
    v1 = _create(alice)
    v2 = _create(alice, "pk2")
    assert (v1, v2) == ("1", "2")
    current = alice.get(f"{API}/room_keys/version").json_body
    assert current == {"algorithm": ALGORITHM, "auth_data": {"public_key": "pk2"}, "count": 0,
                       "etag": current["etag"], "version": "2"}
    assert alice.get(f"{API}/room_keys/version/1").json_body["auth_data"] == {"public_key": "pk1"}
    # Another user's versions are not visible.
    assert_error(bob.get(f"{API}/room_keys/version/1"), 404, "M_NOT_FOUND")
    # Only auth_data changes.
    resp = alice.put(f"{API}/room_keys/version/2", {"algorithm": ALGORITHM, "auth_data": {"public_key": "pk3"},
                                                    "version": "2"})
    assert resp.status_code == 200, resp.json_body
    assert alice.get(f"{API}/room_keys/version/2").json_body["auth_data"] == {"public_key": "pk3"}
    assert_error(alice.put(f"{API}/room_keys/version/2", {"algorithm": ALGORITHM, "auth_data": {}, "version": "1"}),
                 400, "M_INVALID_PARAM")
    assert_error(alice.put(f"{API}/room_keys/version/2", {"algorithm": "other", "auth_data": {}}), 400,
                 "M_INVALID_PARAM")
    assert_error(alice.put(f"{API}/room_keys/version/9", {"algorithm": ALGORITHM, "auth_data": {}}), 404,
                 "M_NOT_FOUND")
    # Delete: twice is fine, the previous version becomes current, numbers are not reused.
    assert alice.delete(f"{API}/room_keys/version/2").status_code == 200
    assert alice.delete(f"{API}/room_keys/version/2").status_code == 200
    assert_error(alice.delete(f"{API}/room_keys/version/7"), 404, "M_NOT_FOUND")
    assert_error(alice.get(f"{API}/room_keys/version/2"), 404, "M_NOT_FOUND")
    assert alice.get(f"{API}/room_keys/version").json_body["version"] == "1"
    assert _create(alice) == "3"


@pytest.mark.parametrize("body, errcode", [
    ({"auth_data": {}}, "M_MISSING_PARAM"), ({"algorithm": ALGORITHM}, "M_MISSING_PARAM"),
    ({"algorithm": ALGORITHM, "auth_data": "x"}, "M_BAD_JSON"), ({"algorithm": "m.unknown", "auth_data": {}},
                                                                 "M_INVALID_PARAM"),
])
def test_create_bad_input(alice, body, errcode):
    assert_error(alice.post(f"{API}/room_keys/version", body), 400, errcode)


def test_keys_roundtrip_at_three_levels(alice):
    v = _create(alice)
    resp = alice.put(f"{API}/room_keys/keys?version={v}",
                     {"rooms": {ROOM: {"sessions": {"s1": _key(), "s2": _key(data="y")}}}})
    assert resp.status_code == 200, resp.json_body
    assert resp.json_body["count"] == 2
    etag1 = resp.json_body["etag"]
    resp = alice.put(f"{API}/room_keys/keys/{ROOM}?version={v}", {"sessions": {"s3": _key()}})
    assert resp.json_body["count"] == 3 and resp.json_body["etag"] != etag1
    resp = alice.put(f"{API}/room_keys/keys/!other:test.local/s9?version={v}", _key(fmi=4))
    assert resp.json_body["count"] == 4

    everything = alice.get(f"{API}/room_keys/keys?version={v}").json_body
    assert set(everything["rooms"]) == {ROOM, "!other:test.local"}
    assert set(everything["rooms"][ROOM]["sessions"]) == {"s1", "s2", "s3"}
    assert alice.get(f"{API}/room_keys/keys/{ROOM}?version={v}").json_body["sessions"]["s2"] == _key(data="y")
    assert alice.get(f"{API}/room_keys/keys/!other:test.local/s9?version={v}").json_body == _key(fmi=4)
    assert alice.get(f"{API}/room_keys/keys/!empty:test.local?version={v}").json_body == {"sessions": {}}
    assert_error(alice.get(f"{API}/room_keys/keys/{ROOM}/nosuch?version={v}"), 404, "M_NOT_FOUND")
    assert alice.get(f"{API}/room_keys/version/{v}").json_body["count"] == 4

    resp = alice.delete(f"{API}/room_keys/keys/{ROOM}/s1?version={v}")
    assert resp.status_code == 200 and resp.json_body["count"] == 3
    resp = alice.delete(f"{API}/room_keys/keys/{ROOM}?version={v}")
    assert resp.json_body["count"] == 1
    resp = alice.delete(f"{API}/room_keys/keys?version={v}")
    assert resp.json_body["count"] == 0
    assert alice.get(f"{API}/room_keys/keys?version={v}").json_body == {"rooms": {}}


def test_better_key_wins(alice):
    v = _create(alice)
    url = f"{API}/room_keys/keys/{ROOM}/s?version={v}"
    alice.put(url, _key(fmi=5, fwd=1, data="first"))
    etag = alice.get(f"{API}/room_keys/version/{v}").json_body["etag"]
    # Worse (higher index) and equal keys are ignored, and the etag stays.
    resp = alice.put(url, _key(fmi=6, data="worse"))
    assert resp.json_body["etag"] == etag
    alice.put(url, _key(fmi=5, fwd=1, data="tie"))
    assert alice.get(url).json_body["session_data"]["ciphertext"] == "first"
    alice.put(url, _key(fmi=5, fwd=0, data="fewer forwards"))
    assert alice.get(url).json_body["session_data"]["ciphertext"] == "fewer forwards"
    alice.put(url, _key(fmi=9, fwd=9, verified=True, data="verified"))
    assert alice.get(url).json_body["session_data"]["ciphertext"] == "verified"
    alice.put(url, _key(fmi=0, fwd=0, verified=False, data="unverified"))
    assert alice.get(url).json_body["session_data"]["ciphertext"] == "verified"
    assert alice.get(f"{API}/room_keys/version/{v}").json_body["etag"] != etag


def test_wrong_version(alice):
    assert_error(alice.put(f"{API}/room_keys/keys?version=1", {"rooms": {}}), 404, "M_NOT_FOUND")
    _create(alice)
    v2 = _create(alice)
    body = assert_error(alice.put(f"{API}/room_keys/keys/{ROOM}/s?version=1", _key()), 403,
                        "M_WRONG_ROOM_KEYS_VERSION")
    assert body["current_version"] == v2
    assert_error(alice.put(f"{API}/room_keys/keys/{ROOM}/s?version=zzz", _key()), 403, "M_WRONG_ROOM_KEYS_VERSION")
    # Reading an older version is allowed; an unknown one is 404.
    assert alice.get(f"{API}/room_keys/keys?version=1").json_body == {"rooms": {}}
    assert_error(alice.get(f"{API}/room_keys/keys?version=42"), 404, "M_NOT_FOUND")
    assert_error(alice.delete(f"{API}/room_keys/keys?version=42"), 404, "M_NOT_FOUND")
    assert_error(alice.get(f"{API}/room_keys/keys"), 400, "M_MISSING_PARAM")


@pytest.mark.parametrize("path, body, errcode", [
    ("", {"rooms": []}, "M_BAD_JSON"),
    ("", {}, "M_MISSING_PARAM"),
    ("", {"rooms": {ROOM: {"sessions": []}}}, "M_BAD_JSON"),
    (f"/{ROOM}", {"sessions": {"s": {"first_message_index": 0}}}, "M_MISSING_PARAM"),
    (f"/{ROOM}/s", dict(_key(), first_message_index="0"), "M_BAD_JSON"),
    (f"/{ROOM}/s", dict(_key(), is_verified=1), "M_BAD_JSON"),
    (f"/{ROOM}/s", dict(_key(), forwarded_count=-1), "M_BAD_JSON"),
    (f"/{ROOM}/s", dict(_key(), session_data="str"), "M_BAD_JSON"),
])
def test_put_bad_input(alice, path, body, errcode):
    v = _create(alice)
    assert_error(alice.put(f"{API}/room_keys/keys{path}?version={v}", body), 400, errcode)
    assert alice.get(f"{API}/room_keys/version/{v}").json_body["count"] == 0


def test_ids_too_long_or_with_nul(alice):
    v = _create(alice)
    long_session = "s" * 300
    assert_error(alice.put(f"{API}/room_keys/keys/{ROOM}/{long_session}?version={v}", _key()), 400, "M_INVALID_PARAM")
    assert_error(alice.put(f"{API}/room_keys/keys?version={v}", {"rooms": {ROOM: {"sessions": {"a\u0000": _key()}}}}),
                 400, "M_BAD_JSON")
    assert_error(alice.get(f"{API}/room_keys/keys/{ROOM}/a%00?version={v}"), 400, "M_INVALID_PARAM")
    assert alice.get(f"{API}/room_keys/version/{v}").json_body["count"] == 0
