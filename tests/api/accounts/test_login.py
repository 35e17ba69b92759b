"""GET/POST /login (getLoginFlows, login): password login, identifiers, devices, refresh tokens,
deactivated accounts and the three login rate limits."""
import pytest

from apps.accounts.models import AccessToken, Device, User
from hsproject.config.sections import RateLimit
from tests.conftest import MatrixClient, assert_error

LOGIN = "/_matrix/client/v3/login"
PW = "correct horse battery"


@pytest.fixture
def carol(db):
    return User.objects.create_user("carol", PW)


def password_login(user="carol", password=PW, **extra):
    return {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user},
            "password": password, **extra}


def test_get_login_flows(mx):
    resp = mx.get(LOGIN, token=None)
    assert resp.status_code == 200
    assert resp.json_body == {"flows": [{"type": "m.login.password"}]}


@pytest.mark.parametrize("prefix", ["api/v1", "r0", "v3", "unstable"])
def test_login_all_version_prefixes(mx, carol, prefix):
    resp = mx.post(f"/_matrix/client/{prefix}/login", password_login(), token=None)
    assert resp.status_code == 200, resp.json_body


def test_get_login_flows_without_password_login(mx, settings):
    settings.HS = settings.HS.replace(password_enabled=False)
    assert mx.get(LOGIN).json_body == {"flows": []}


def test_login_success_shape(mx, carol, settings):
    resp = mx.post(LOGIN, password_login(), token=None)
    assert resp.status_code == 200, resp.json_body
    body = resp.json_body
    assert body["user_id"] == "@carol:test.local"
    assert body["access_token"].startswith("syt_")
    assert body["device_id"]
    assert body["home_server"] == "test.local"
    assert body["well_known"] == {"m.homeserver": {"base_url": settings.HS.public_baseurl}}
    assert "refresh_token" not in body
    who = mx.get("/_matrix/client/v3/account/whoami", token=body["access_token"])
    assert who.json_body["user_id"] == "@carol:test.local"


@pytest.mark.parametrize("user", ["carol", "@carol:test.local", "CAROL", "@Carol:test.local"])
def test_login_identifier_forms(mx, carol, user):
    resp = mx.post(LOGIN, password_login(user), token=None)
    assert resp.status_code == 200, resp.json_body
    assert resp.json_body["user_id"] == "@carol:test.local"


def test_login_legacy_user_field(mx, carol):
    resp = mx.post(LOGIN, {"type": "m.login.password", "user": "carol", "password": PW}, token=None)
    assert resp.status_code == 200, resp.json_body


def test_login_ambiguous_case_insensitive_match_is_refused(mx):
    User.objects.create_user("dave", PW)
    User.objects.create_user("DAVE", PW)  # historical: created before localparts were lowercase-only
    assert mx.post(LOGIN, password_login("dave"), token=None).status_code == 200
    assert_error(mx.post(LOGIN, password_login("Dave"), token=None), 403, "M_FORBIDDEN")


def test_login_wrong_password_and_unknown_user_look_the_same(mx, carol):
    a = assert_error(mx.post(LOGIN, password_login(password="wrong"), token=None), 403, "M_FORBIDDEN")
    b = assert_error(mx.post(LOGIN, password_login("nobody"), token=None), 403, "M_FORBIDDEN")
    c = assert_error(mx.post(LOGIN, password_login("@carol:elsewhere.org"), token=None), 403, "M_FORBIDDEN")
    assert a["error"] == b["error"] == c["error"]


def test_login_with_third_party_identifier_is_forbidden(mx, carol):
    body = {"type": "m.login.password", "password": PW,
            "identifier": {"type": "m.id.thirdparty", "medium": "email", "address": "c@example.org"}}
    assert_error(mx.post(LOGIN, body, token=None), 403, "M_FORBIDDEN")


def test_login_unknown_identifier_type(mx, carol):
    body = {"type": "m.login.password", "password": PW, "identifier": {"type": "m.id.nope", "user": "carol"}}
    assert_error(mx.post(LOGIN, body, token=None), 400, "M_UNKNOWN")


def test_login_deactivated_with_right_password(mx, carol):
    User.objects.filter(pk=carol.pk).update(deactivated=True)
    assert_error(mx.post(LOGIN, password_login(), token=None), 403, "M_USER_DEACTIVATED")
    # With the wrong password it is indistinguishable from any failed login.
    assert_error(mx.post(LOGIN, password_login(password="nope"), token=None), 403, "M_FORBIDDEN")


@pytest.mark.parametrize("login_type", ["m.login.token", "m.login.application_service", "m.login.sso", "x"])
def test_login_unknown_type(mx, carol, login_type):
    assert_error(mx.post(LOGIN, {**password_login(), "type": login_type}, token=None), 400, "M_UNKNOWN")


def test_login_password_disabled(mx, carol, settings):
    settings.HS = settings.HS.replace(password_enabled=False)
    assert_error(mx.post(LOGIN, password_login(), token=None), 400, "M_UNKNOWN")


@pytest.mark.parametrize("body,errcode", [
    ({"identifier": {"type": "m.id.user", "user": "carol"}, "password": PW}, "M_MISSING_PARAM"),
    ({"type": 1, "user": "carol", "password": PW}, "M_BAD_JSON"),
    ({"type": "m.login.password", "user": "carol"}, "M_MISSING_PARAM"),
    ({"type": "m.login.password", "user": "carol", "password": 123}, "M_BAD_JSON"),
    ({"type": "m.login.password", "password": PW}, "M_MISSING_PARAM"),
    ({"type": "m.login.password", "user": ["carol"], "password": PW}, "M_BAD_JSON"),
    ({"type": "m.login.password", "identifier": "carol", "password": PW}, "M_BAD_JSON"),
    ({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": 5}, "password": PW}, "M_BAD_JSON"),
    ({**password_login(), "device_id": 5}, "M_BAD_JSON"),
    ({**password_login(), "device_id": ""}, "M_INVALID_PARAM"),
    ({**password_login(), "device_id": "D" * 256}, "M_INVALID_PARAM"),
    ({**password_login(), "initial_device_display_name": ["x"]}, "M_BAD_JSON"),
    ({**password_login(), "initial_device_display_name": "x" * 101}, "M_TOO_LARGE"),
    ({**password_login(), "refresh_token": "yes"}, "M_BAD_JSON"),
])
def test_login_bad_bodies(mx, carol, body, errcode):
    assert_error(mx.post(LOGIN, body, token=None), 400, errcode)


def test_login_not_json(mx):
    assert_error(mx.request("POST", LOGIN, raw=b"{nope", token=None), 400, "M_NOT_JSON")
    assert_error(mx.request("POST", LOGIN, raw=b"[]", token=None), 400, "M_BAD_JSON")


def test_login_wrong_method(mx):
    assert_error(mx.put(LOGIN, {}, token=None), 405, "M_UNRECOGNIZED")
    assert_error(mx.delete(LOGIN, token=None), 405, "M_UNRECOGNIZED")


def test_login_device_id_and_display_name(mx, carol):
    resp = mx.post(LOGIN, password_login(device_id="MYPHONE", initial_device_display_name="Phone"), token=None)
    assert resp.status_code == 200, resp.json_body
    assert resp.json_body["device_id"] == "MYPHONE"
    dev = Device.objects.get(user=carol, device_id="MYPHONE")
    assert dev.display_name == "Phone"


def test_login_reusing_device_id_replaces_its_token(mx, carol):
    first = mx.post(LOGIN, password_login(device_id="DEV"), token=None).json_body
    second = mx.post(LOGIN, password_login(device_id="DEV"), token=None).json_body
    assert second["device_id"] == "DEV"
    assert_error(mx.get("/_matrix/client/v3/account/whoami", token=first["access_token"]), 401, "M_UNKNOWN_TOKEN")
    assert mx.get("/_matrix/client/v3/account/whoami", token=second["access_token"]).status_code == 200
    assert Device.objects.filter(user=carol).count() == 1


def test_login_new_device_each_time(mx, carol):
    a = mx.post(LOGIN, password_login(), token=None).json_body
    b = mx.post(LOGIN, password_login(), token=None).json_body
    assert a["device_id"] != b["device_id"]
    assert AccessToken.objects.filter(user=carol).count() == 2


def test_login_with_refresh_token(mx, carol, settings):
    resp = mx.post(LOGIN, password_login(refresh_token=True), token=None)
    assert resp.status_code == 200
    body = resp.json_body
    assert body["refresh_token"].startswith("syr_")
    assert body["expires_in_ms"] == settings.HS.refreshable_access_token_lifetime_ms


def test_login_rate_limited_per_ip(mx, carol, settings):
    settings.HS = settings.HS.replace(rc_login_address=RateLimit(per_second=0.001, burst_count=2))
    for _ in range(2):
        mx.post(LOGIN, password_login(password="wrong"), token=None)
    resp = mx.post(LOGIN, password_login(), token=None)
    err = assert_error(resp, 429, "M_LIMIT_EXCEEDED")
    assert err["retry_after_ms"] > 0
    assert int(resp["Retry-After"]) >= 1


def test_login_rate_limited_per_account(mx, carol, settings):
    settings.HS = settings.HS.replace(rc_login_account=RateLimit(per_second=0.001, burst_count=2))
    for _ in range(2):
        assert mx.post(LOGIN, password_login(), token=None).status_code == 200
    assert_error(mx.post(LOGIN, password_login(), token=None), 429, "M_LIMIT_EXCEEDED")
    # Another account is not affected.
    User.objects.create_user("erin", PW)
    assert mx.post(LOGIN, password_login("erin"), token=None).status_code == 200


def test_login_failed_attempts_lock_out_even_the_right_password(mx, carol, settings):
    settings.HS = settings.HS.replace(rc_login_failed_attempts=RateLimit(per_second=0.001, burst_count=3))
    for _ in range(3):
        assert_error(mx.post(LOGIN, password_login(password="wrong"), token=None), 403, "M_FORBIDDEN")
    resp = mx.post(LOGIN, password_login(password="wrong"), token=None)
    assert_error(resp, 429, "M_LIMIT_EXCEEDED")
    assert resp["Retry-After"]
    # Locked out: the right password is not even tried now, from any client.
    assert_error(MatrixClient().post(LOGIN, password_login("CAROL"), token=None), 429, "M_LIMIT_EXCEEDED")
    # Another account is not affected.
    User.objects.create_user("erin", PW)
    assert mx.post(LOGIN, password_login("erin"), token=None).status_code == 200
