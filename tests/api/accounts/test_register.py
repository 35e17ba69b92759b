"""POST /_matrix/client/v3/register (operationId: register), through HTTP."""
import pytest

from apps.accounts.models import AccessToken, Device, UIASession, User
from hsproject.config.sections import RateLimit
from tests.conftest import assert_error

URL = "/_matrix/client/v3/register"
DUMMY = {"type": "m.login.dummy"}


def test_first_request_gets_flows_session_and_params(mx):
    resp = mx.post(URL, {"username": "alice", "password": "secret pass"}, token=None)
    assert resp.status_code == 401
    body = resp.json_body
    assert body["flows"] == [{"stages": ["m.login.dummy"]}]
    assert isinstance(body["session"], str) and body["session"]
    assert body["params"] == {}
    assert body["completed"] == []
    assert not User.objects.filter(localpart="alice").exists()


def test_password_is_not_stored_in_plain_text_in_the_session(mx):
    resp = mx.post(URL, {"username": "alice", "password": "secret pass"}, token=None)
    session = UIASession.objects.get(session_id=resp.json_body["session"])
    assert "secret pass" not in str(session.clientdict)


def test_completing_dummy_in_the_session_registers(mx):
    first = mx.post(URL, {"username": "alice", "password": "secret pass", "device_id": "DEV1"}, token=None)
    session = first.json_body["session"]
    resp = mx.post(URL, {"auth": {"type": "m.login.dummy", "session": session}}, token=None)
    assert resp.status_code == 200, resp.json_body
    body = resp.json_body
    assert body["user_id"] == "@alice:test.local"
    assert body["device_id"] == "DEV1"
    assert body["access_token"].startswith("syt_")
    assert body["home_server"] == "test.local"
    assert "refresh_token" not in body
    user = User.objects.get(localpart="alice")
    assert user.check_password("secret pass")
    assert not user.admin and not user.is_guest
    assert user.displayname == "alice"
    # The session authorised one registration only.
    assert_error(mx.post(URL, {"auth": {"type": "m.login.dummy", "session": session}}, token=None), 400, "M_UNKNOWN")


def test_single_request_with_dummy(mx):
    data = mx.register("bob")
    assert data["user_id"] == "@bob:test.local"
    assert AccessToken.objects.filter(user__localpart="bob").count() == 1


def test_access_token_works(mx):
    mx.register("carol")
    from apps.accounts.auth import authenticate_token
    assert authenticate_token(mx.token).user_id == "@carol:test.local"


def test_device_id_and_display_name_applied(mx):
    data = mx.register("dave", device_id="MYPHONE", initial_device_display_name="Dave's phone")
    assert data["device_id"] == "MYPHONE"
    dev = Device.objects.get(user__localpart="dave", device_id="MYPHONE")
    assert dev.display_name == "Dave's phone"


def test_generated_device_id(mx):
    data = mx.register("erin")
    assert Device.objects.filter(user__localpart="erin", device_id=data["device_id"]).exists()


def test_inhibit_login(mx):
    data = mx.register("frank", inhibit_login=True, device_id="X")
    assert data["user_id"] == "@frank:test.local"
    assert "access_token" not in data and "device_id" not in data
    assert not AccessToken.objects.filter(user__localpart="frank").exists()
    assert not Device.objects.filter(user__localpart="frank").exists()


def test_refresh_token(mx):
    data = mx.register("gina", refresh_token=True)
    assert data["refresh_token"].startswith("syr_")
    assert isinstance(data["expires_in_ms"], int) and data["expires_in_ms"] > 0


def test_no_username_generates_numeric_localpart(mx):
    a = mx.post(URL, {"password": "pw one", "auth": DUMMY}, token=None)
    b = mx.post(URL, {"password": "pw two", "auth": DUMMY}, token=None)
    assert a.status_code == b.status_code == 200, (a.json_body, b.json_body)
    la = a.json_body["user_id"][1:].split(":")[0]
    lb = b.json_body["user_id"][1:].split(":")[0]
    assert la.isdigit() and lb.isdigit() and int(lb) == int(la) + 1


def test_missing_password_after_auth(mx):
    assert_error(mx.post(URL, {"username": "hank", "auth": DUMMY}, token=None), 400, "M_MISSING_PARAM")
    assert not User.objects.filter(localpart="hank").exists()


def test_first_request_without_anything_gets_flows(mx):
    # Clients ask for the flows with an empty body.
    assert mx.post(URL, {}, token=None).status_code == 401


def test_user_in_use_before_uia(mx):
    mx.register("alice")
    resp = mx.post(URL, {"username": "alice", "password": "another pw"}, token=None)
    assert_error(resp, 400, "M_USER_IN_USE")


def test_user_in_use_after_uia(mx):
    # The name is taken while the first client is authenticating: M_USER_IN_USE at the end, not a 500.
    first = mx.post(URL, {"username": "ivan", "password": "secret pass"}, token=None)
    other = type(mx)()
    other.register("ivan")
    resp = mx.post(URL, {"auth": {"type": "m.login.dummy", "session": first.json_body["session"]}}, token=None)
    assert_error(resp, 400, "M_USER_IN_USE")


@pytest.mark.parametrize("username", ["Alice", "al ice", "al:ice", "_bridge", "é", "", "12345", "a" * 300,
                                      "nul\x00byte"])
def test_invalid_usernames(mx, username):
    resp = mx.post(URL, {"username": username, "password": "secret pass", "auth": DUMMY}, token=None)
    assert_error(resp, 400, "M_INVALID_USERNAME")
    assert User.objects.count() == 0


def test_disabled_registration(mx, settings):
    settings.HS = settings.HS.replace(enable_registration=False)
    body = assert_error(mx.post(URL, {"username": "x", "password": "y"}, token=None), 403, "M_FORBIDDEN")
    assert body["error"] == "Registration has been disabled"


def test_registration_without_any_offered_flow_is_forbidden(mx, settings):
    settings.HS = settings.HS.replace(enable_registration_without_verification=False)
    assert_error(mx.post(URL, {"username": "x", "password": "y"}, token=None), 403, "M_FORBIDDEN")


def test_unknown_kind(mx):
    assert_error(mx.post(URL + "?kind=admin", {}, token=None), 400, "M_INVALID_PARAM")


def test_guest_disabled(mx):
    assert_error(mx.post(URL + "?kind=guest", {}, token=None), 403, "M_GUEST_ACCESS_FORBIDDEN")


def test_guest_enabled(mx, settings):
    settings.HS = settings.HS.replace(allow_guest_access=True)
    resp = mx.post(URL + "?kind=guest", {"username": "ignored", "password": "ignored", "device_id": "IGNORED",
                                         "initial_device_display_name": "Guest browser"}, token=None)
    assert resp.status_code == 200, resp.json_body
    body = resp.json_body
    localpart = body["user_id"][1:].split(":")[0]
    assert localpart.isdigit()
    assert body["device_id"] != "IGNORED" and body["access_token"]
    user = User.objects.get(localpart=localpart)
    assert user.is_guest and not user.has_usable_password()
    assert Device.objects.get(user=user).display_name == "Guest browser"
    second = mx.post(URL + "?kind=guest", {}, token=None).json_body
    assert int(second["user_id"][1:].split(":")[0]) == int(localpart) + 1


def test_guest_allowed_even_when_registration_disabled(mx, settings):
    # As Synapse: guest access is its own switch.
    settings.HS = settings.HS.replace(allow_guest_access=True, enable_registration=False)
    assert mx.post(URL + "?kind=guest", {}, token=None).status_code == 200


def test_r0_and_unstable_aliases(mx):
    for v in ("r0", "unstable"):
        resp = mx.post(f"/_matrix/client/{v}/register", {"username": f"user{v}", "password": "pw pw",
                                                         "auth": DUMMY}, token=None)
        assert resp.status_code == 200, resp.json_body


def test_wrong_method(mx):
    assert_error(mx.get(URL), 405, "M_UNRECOGNIZED")


def test_password_policy_applies(mx, settings):
    from hsproject.config.sections import PasswordPolicy
    settings.HS = settings.HS.replace(password_policy=PasswordPolicy(enabled=True, minimum_length=8,
                                                                     require_digit=True))
    assert_error(mx.post(URL, {"username": "pp", "password": "short"}, token=None), 400, "M_PASSWORD_TOO_SHORT")
    assert_error(mx.post(URL, {"username": "pp", "password": "longenough"}, token=None), 400, "M_PASSWORD_NO_DIGIT")
    assert mx.post(URL, {"username": "pp", "password": "longenough1", "auth": DUMMY}, token=None).status_code == 200


def test_rate_limit(mx, settings):
    settings.HS = settings.HS.replace(rc_registration=RateLimit(0.1, 2))
    assert mx.post(URL, {}, token=None).status_code == 401
    assert mx.post(URL, {}, token=None).status_code == 401
    resp = mx.post(URL, {}, token=None)
    body = assert_error(resp, 429, "M_LIMIT_EXCEEDED")
    assert body["retry_after_ms"] > 0
    assert int(resp["Retry-After"]) >= 1


def test_rate_limit_is_per_ip(mx, settings):
    settings.HS = settings.HS.replace(rc_registration=RateLimit(0.1, 1))
    assert mx.post(URL, {}, token=None).status_code == 401
    assert_error(mx.post(URL, {}, token=None), 429, "M_LIMIT_EXCEEDED")
    mx.http.defaults["REMOTE_ADDR"] = "10.1.2.3"
    assert mx.post(URL, {}, token=None).status_code == 401


WRONG_TYPES = [1, 1.5, True, [], {}, ["x"], {"a": 1}]


@pytest.mark.parametrize("name", ["username", "password", "device_id", "initial_device_display_name",
                                  "inhibit_login", "refresh_token", "auth"])
@pytest.mark.parametrize("value", WRONG_TYPES + ["string"])
def test_wrong_json_types_never_500(mx, name, value):
    body = {"username": "typed", "password": "secret pass", "auth": DUMMY, name: value}
    resp = mx.post(URL, body, token=None)
    assert resp.status_code < 500, resp.json_body
    if resp.status_code == 401:
        assert "flows" in resp.json_body
    elif resp.status_code != 200:
        assert resp.json_body["errcode"].startswith("M_")


@pytest.mark.parametrize("raw", [b"", b"not json", b"[]", b"null", b'"s"', b'{"username": NaN}'])
def test_bad_bodies(mx, raw):
    resp = mx.request("POST", URL, raw=raw, token=None)
    assert resp.status_code == 400 and resp.json_body["errcode"] in ("M_NOT_JSON", "M_BAD_JSON")


@pytest.mark.parametrize("auth", [{"type": "m.login.password"}, {"type": 5}, {"session": 5},
                                  {"session": "nope", "type": "m.login.dummy"}, {"session": "x" * 1000},
                                  {"session": "a\x00b"}, {"type": "m.login.registration_token", "token": 3}])
def test_odd_auth_dicts(mx, auth):
    resp = mx.post(URL, {"username": "odd", "password": "secret pass", "auth": auth}, token=None)
    assert resp.status_code in (400, 401, 403), resp.json_body
    assert resp.json_body["errcode"].startswith("M_") if resp.status_code != 401 else "flows" in resp.json_body


@pytest.mark.parametrize("name", ["device_id", "initial_device_display_name", "password"])
def test_nul_and_long_strings_are_400(mx, name):
    for value in ("a\x00b", "x" * 1000):
        resp = mx.post(URL, {"username": "nul", "password": "secret pass", "auth": DUMMY, name: value}, token=None)
        assert resp.status_code == 400, resp.json_body


def test_unknown_body_keys_ignored(mx):
    resp = mx.post(URL, {"username": "extra", "password": "secret pass", "x": "a\x00b",
                         "org.hsproject.password_hash": "md5$x$y"}, token=None)
    assert resp.status_code == 401
    session = resp.json_body["session"]
    resp = mx.post(URL, {"auth": {"type": "m.login.dummy", "session": session},
                         "org.hsproject.password_hash": "md5$x$y"}, token=None)
    assert resp.status_code == 200
    assert User.objects.get(localpart="extra").check_password("secret pass")
