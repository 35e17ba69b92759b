"""GET /_matrix/key/v2/server: the server's published, self-signed verify keys."""
import time

from canonicaljson import encode_canonical_json
from signedjson.key import decode_verify_key_bytes
from signedjson.sign import SignatureVerifyException, verify_signed_json
from unpaddedbase64 import decode_base64

from apps.federation import signing
from tests.conftest import assert_error

PATH = "/_matrix/key/v2/server"


def _verify_key(body, key_id):
    return decode_verify_key_bytes(key_id, decode_base64(body["verify_keys"][key_id]["key"]))


def test_key_response_shape(mx, settings):
    resp = mx.get(PATH, token=None)
    assert resp.status_code == 200
    assert resp["Content-Type"].startswith("application/json")
    body = resp.json_body
    assert body["server_name"] == settings.HS.server_name
    assert body["old_verify_keys"] == {}
    (key_id,) = body["verify_keys"]
    assert key_id == signing.signing_key_id()
    assert key_id.startswith("ed25519:")
    now = int(time.time() * 1000)
    # At least an hour ahead (spec), and not absurdly far.
    assert now + 3600_000 < body["valid_until_ts"] <= now + 7 * 24 * 3600_000


def test_key_response_is_signed_by_published_key(mx, settings):
    body = mx.get(PATH, token=None).json_body
    (key_id,) = body["verify_keys"]
    assert set(body["signatures"]) == {settings.HS.server_name}
    assert set(body["signatures"][settings.HS.server_name]) == {key_id}
    verify_signed_json(body, settings.HS.server_name, _verify_key(body, key_id))


def test_tampered_response_fails_verification(mx, settings):
    body = mx.get(PATH, token=None).json_body
    (key_id,) = body["verify_keys"]
    body["valid_until_ts"] += 1
    try:
        verify_signed_json(body, settings.HS.server_name, _verify_key(body, key_id))
    except SignatureVerifyException:
        pass
    else:
        raise AssertionError("a modified key response must not verify")


def test_body_is_canonical_json(mx):
    resp = mx.get(PATH, token=None)
    assert resp.content == encode_canonical_json(resp.json_body)


def test_same_key_on_every_request(mx):
    a = mx.get(PATH, token=None).json_body["verify_keys"]
    b = mx.get(PATH, token=None).json_body["verify_keys"]
    assert a == b


def test_head_is_served(mx):
    assert mx.request("HEAD", PATH, token=None).status_code == 200


def test_wrong_method_is_405(mx):
    assert_error(mx.post(PATH, {}), 405, "M_UNRECOGNIZED")
    assert_error(mx.put(PATH, {}), 405, "M_UNRECOGNIZED")


def test_unknown_key_paths_are_unrecognized(mx):
    # The deprecated /server/{keyId} form is no longer in the spec and is not served.
    assert_error(mx.get(PATH + "/ed25519:abc", token=None), 404, "M_UNRECOGNIZED")
    assert_error(mx.get("/_matrix/key/v1/server", token=None), 404, "M_UNRECOGNIZED")
