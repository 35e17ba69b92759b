"""Shared-secret registration: GET/POST /_synapse/admin/v1/register (Synapse's admin API)."""
import hashlib
import hmac

import pytest

from apps.accounts.models import User
from tests.conftest import assert_error

URL = "/_synapse/admin/v1/register"
SECRET = "shared-secret-for-tests"  # hsproject/settings/test.py


def mac(nonce, username, password, admin=False, user_type=None, secret=SECRET):
    m = hmac.new(secret.encode(), digestmod=hashlib.sha1)
    m.update(nonce.encode() + b"\x00" + username.encode() + b"\x00" + password.encode() + b"\x00")
    m.update(b"admin" if admin else b"notadmin")
    if user_type:
        m.update(b"\x00" + user_type.encode())
    return m.hexdigest()


def nonce(mx):
    resp = mx.get(URL, token=None)
    assert resp.status_code == 200
    return resp.json_body["nonce"]


def body(mx, username="alice", password="wonderland", admin=False, user_type=None, **extra):
    n = nonce(mx)
    out = {"nonce": n, "username": username, "password": password, "admin": admin,
           "mac": mac(n, username, password, admin, user_type), **extra}
    if user_type:
        out["user_type"] = user_type
    return out


def test_nonces_are_fresh(mx):
    a, b = nonce(mx), nonce(mx)
    assert a != b and len(a) == 128


def test_register_user(mx):
    resp = mx.post(URL, body(mx), token=None)
    assert resp.status_code == 200, resp.json_body
    data = resp.json_body
    assert data["user_id"] == "@alice:test.local"
    assert data["home_server"] == "test.local"
    assert data["access_token"] and data["device_id"]
    user = User.objects.get(localpart="alice")
    assert user.check_password("wonderland") and not user.admin and user.displayname == "alice"
    mx.token = data["access_token"]
    from apps.accounts.auth import authenticate_token
    assert authenticate_token(mx.token).user_id == "@alice:test.local"


def test_register_admin_with_type_and_displayname(mx):
    resp = mx.post(URL, body(mx, "botty", admin=True, user_type="bot", displayname="Botty McBot"), token=None)
    assert resp.status_code == 200, resp.json_body
    user = User.objects.get(localpart="botty")
    assert user.admin and user.user_type == "bot" and user.displayname == "Botty McBot"


def test_username_is_lowercased_after_mac(mx):
    resp = mx.post(URL, body(mx, "Carol"), token=None)
    assert resp.status_code == 200 and resp.json_body["user_id"] == "@carol:test.local"


def test_refresh_token(mx):
    resp = mx.post(URL, body(mx, refresh_token=True), token=None)
    assert resp.json_body["refresh_token"].startswith("syr_") and resp.json_body["expires_in_ms"] > 0


def test_bad_mac(mx):
    b = body(mx)
    b["mac"] = "0" * 40
    assert_error(mx.post(URL, b, token=None), 403, "M_UNKNOWN")
    assert not User.objects.exists()


def test_mac_must_cover_admin_flag(mx):
    b = body(mx, admin=False)
    b["admin"] = True
    assert_error(mx.post(URL, b, token=None), 403, "M_UNKNOWN")


def test_mac_with_wrong_secret(mx):
    n = nonce(mx)
    b = {"nonce": n, "username": "x", "password": "y", "mac": mac(n, "x", "y", secret="other")}
    assert_error(mx.post(URL, b, token=None), 403, "M_UNKNOWN")


def test_nonce_reuse(mx):
    b = body(mx)
    assert mx.post(URL, b, token=None).status_code == 200
    b2 = dict(b, username="bob", mac=mac(b["nonce"], "bob", "wonderland"))
    assert_error(mx.post(URL, b2, token=None), 400, "M_UNKNOWN")


def test_nonce_spent_by_a_bad_mac(mx):
    b = body(mx)
    good = b["mac"]
    b["mac"] = "f" * 40
    assert_error(mx.post(URL, b, token=None), 403, "M_UNKNOWN")
    b["mac"] = good
    assert_error(mx.post(URL, b, token=None), 400, "M_UNKNOWN")


def test_unknown_nonce(mx):
    n = "a" * 128
    b = {"nonce": n, "username": "x", "password": "y", "mac": mac(n, "x", "y")}
    assert_error(mx.post(URL, b, token=None), 400, "M_UNKNOWN")


def test_user_in_use(mx):
    assert mx.post(URL, body(mx), token=None).status_code == 200
    assert_error(mx.post(URL, body(mx), token=None), 400, "M_USER_IN_USE")


def test_invalid_username(mx):
    assert_error(mx.post(URL, body(mx, "bad name"), token=None), 400, "M_INVALID_USERNAME")


def test_invalid_user_type(mx):
    assert_error(mx.post(URL, body(mx, user_type="wizard"), token=None), 400, "M_INVALID_PARAM")


def test_not_configured(mx, settings):
    settings.HS = settings.HS.replace(registration_shared_secret=None)
    assert_error(mx.get(URL, token=None), 400, "M_UNKNOWN")
    assert_error(mx.post(URL, {"nonce": "x"}, token=None), 400, "M_UNKNOWN")


def test_works_when_registration_is_disabled(mx, settings):
    settings.HS = settings.HS.replace(enable_registration=False)
    assert mx.post(URL, body(mx), token=None).status_code == 200


@pytest.mark.parametrize("missing", ["nonce", "username", "password", "mac"])
def test_missing_fields(mx, missing):
    b = body(mx)
    del b[missing]
    assert_error(mx.post(URL, b, token=None), 400, "M_BAD_JSON")


@pytest.mark.parametrize("name", ["nonce", "username", "password", "mac", "admin", "user_type", "displayname",
                                  "refresh_token"])
@pytest.mark.parametrize("value", [1, 1.5, [], {}, ["x"], "a\x00b", "x" * 600, "string", True])
def test_wrong_types_never_500(mx, name, value):
    b = body(mx)
    b[name] = value
    resp = mx.post(URL, b, token=None)
    assert resp.status_code < 500, resp.json_body
    if resp.status_code != 200:
        assert resp.json_body["errcode"].startswith("M_")


@pytest.mark.parametrize("raw", [b"", b"[]", b"nope"])
def test_bad_bodies(mx, raw):
    resp = mx.request("POST", URL, raw=raw, token=None)
    assert resp.status_code == 400 and resp.json_body["errcode"] in ("M_NOT_JSON", "M_BAD_JSON")
