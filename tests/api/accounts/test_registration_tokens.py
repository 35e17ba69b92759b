"""Token-authenticated registration (m.login.registration_token) and
GET /_matrix/client/v1/register/m.login.registration_token/validity (registrationTokenValidity)."""
import time

import pytest

from apps.accounts.models import RegistrationToken, User
from hsproject.config.sections import RateLimit
from tests.conftest import assert_error

URL = "/_matrix/client/v3/register"
VALIDITY = "/_matrix/client/v1/register/m.login.registration_token/validity"


@pytest.fixture
def tokens_required(settings):
    settings.HS = settings.HS.replace(registration_requires_token=True)


def _now_ms():
    return int(time.time() * 1000)


def _register_with_token(mx, username, token):
    first = mx.post(URL, {"username": username, "password": "secret pass"}, token=None)
    assert first.status_code == 401, first.json_body
    return mx.post(URL, {"auth": {"type": "m.login.registration_token", "token": token,
                                  "session": first.json_body["session"]}}, token=None)


def test_flows_require_the_token(mx, tokens_required):
    resp = mx.post(URL, {"username": "a", "password": "secret pass"}, token=None)
    assert resp.status_code == 401
    assert resp.json_body["flows"] == [{"stages": ["m.login.registration_token"]}]


def test_dummy_is_not_enough(mx, tokens_required):
    resp = mx.post(URL, {"username": "a", "password": "secret pass", "auth": {"type": "m.login.dummy"}}, token=None)
    assert resp.status_code == 401
    assert resp.json_body["errcode"] == "M_UNRECOGNIZED"
    assert not User.objects.exists()


def test_valid_token_registers_and_counts_completed(mx, tokens_required):
    RegistrationToken.objects.create(token="abcd", uses_allowed=2)
    resp = _register_with_token(mx, "alice", "abcd")
    assert resp.status_code == 200, resp.json_body
    assert resp.json_body["user_id"] == "@alice:test.local"
    row = RegistrationToken.objects.get(token="abcd")
    assert (row.pending, row.completed) == (0, 1)


def test_failed_registration_gives_its_pending_use_back(mx, tokens_required):
    RegistrationToken.objects.create(token="abcd", uses_allowed=1)
    # The token stage passes (the use is pending), then the registration fails: no password.
    resp = mx.post(URL, {"username": "alice", "auth": {"type": "m.login.registration_token", "token": "abcd"}},
                   token=None)
    assert_error(resp, 400, "M_MISSING_PARAM")
    row = RegistrationToken.objects.get(token="abcd")
    assert (row.pending, row.completed) == (0, 0)
    assert mx.get(VALIDITY + "?token=abcd").json_body == {"valid": True}


def test_pending_uses_count_against_uses_allowed(mx, tokens_required):
    # Another client is between the token stage and the end of its registration.
    RegistrationToken.objects.create(token="once", uses_allowed=1, pending=1)
    resp = _register_with_token(mx, "bob", "once")
    assert resp.status_code == 401 and resp.json_body["errcode"] == "M_UNAUTHORIZED"
    assert mx.get(VALIDITY + "?token=once").json_body == {"valid": False}
    row = RegistrationToken.objects.get(token="once")
    assert (row.pending, row.completed) == (1, 0)


def test_invalid_token(mx, tokens_required):
    resp = _register_with_token(mx, "alice", "nope")
    assert resp.status_code == 401
    assert resp.json_body["errcode"] == "M_UNAUTHORIZED"
    assert isinstance(resp.json_body["error"], str)
    assert resp.json_body["completed"] == []
    assert not User.objects.exists()


def test_exhausted_token(mx, tokens_required):
    RegistrationToken.objects.create(token="once", uses_allowed=1)
    assert _register_with_token(mx, "alice", "once").status_code == 200
    resp = _register_with_token(type(mx)(), "bob", "once")
    assert resp.status_code == 401 and resp.json_body["errcode"] == "M_UNAUTHORIZED"
    row = RegistrationToken.objects.get(token="once")
    assert (row.pending, row.completed) == (0, 1)


def test_unlimited_token(mx, tokens_required):
    RegistrationToken.objects.create(token="many", uses_allowed=None)
    for name in ("a1", "a2", "a3"):
        assert _register_with_token(type(mx)(), name, "many").status_code == 200
    assert RegistrationToken.objects.get(token="many").completed == 3


def test_expired_token(mx, tokens_required):
    RegistrationToken.objects.create(token="old", expiry_time=_now_ms() - 1000)
    resp = _register_with_token(mx, "alice", "old")
    assert resp.status_code == 401 and resp.json_body["errcode"] == "M_UNAUTHORIZED"


def test_missing_token_in_stage(mx, tokens_required):
    resp = mx.post(URL, {"username": "a", "password": "secret pass",
                         "auth": {"type": "m.login.registration_token"}}, token=None)
    assert resp.status_code == 401 and resp.json_body["errcode"] == "M_MISSING_PARAM"


def test_user_taken_during_token_auth_releases_the_use(mx, tokens_required):
    RegistrationToken.objects.create(token="abcd", uses_allowed=5)
    first = mx.post(URL, {"username": "alice", "password": "secret pass"}, token=None)
    User.objects.create_user("alice", "x")
    resp = mx.post(URL, {"auth": {"type": "m.login.registration_token", "token": "abcd",
                                  "session": first.json_body["session"]}}, token=None)
    assert_error(resp, 400, "M_USER_IN_USE")
    row = RegistrationToken.objects.get(token="abcd")
    assert (row.pending, row.completed) == (0, 0)


# registrationTokenValidity

def test_validity(mx):
    RegistrationToken.objects.create(token="good", uses_allowed=1)
    RegistrationToken.objects.create(token="used", uses_allowed=1, completed=1)
    RegistrationToken.objects.create(token="expired", expiry_time=_now_ms() - 1)
    RegistrationToken.objects.create(token="future", expiry_time=_now_ms() + 60_000)
    assert mx.get(VALIDITY + "?token=good").json_body == {"valid": True}
    assert mx.get(VALIDITY + "?token=future").json_body == {"valid": True}
    for t in ("used", "expired", "unknown", "", "x" * 500, "a%00b"):
        resp = mx.get(VALIDITY + "?token=" + t)
        assert resp.status_code == 200 and resp.json_body == {"valid": False}, t


def test_validity_missing_token(mx):
    assert_error(mx.get(VALIDITY), 400, "M_MISSING_PARAM")


def test_validity_registration_disabled(mx, settings):
    settings.HS = settings.HS.replace(enable_registration=False)
    assert_error(mx.get(VALIDITY + "?token=good"), 403, "M_FORBIDDEN")


def test_validity_rate_limited(mx, settings):
    settings.HS = settings.HS.replace(rc_registration=RateLimit(0.1, 2))
    assert mx.get(VALIDITY + "?token=a").status_code == 200
    assert mx.get(VALIDITY + "?token=b").status_code == 200
    resp = mx.get(VALIDITY + "?token=c")
    assert assert_error(resp, 429, "M_LIMIT_EXCEEDED")["retry_after_ms"] > 0
    assert resp["Retry-After"]


def test_validity_only_on_v1(mx):
    assert_error(mx.get("/_matrix/client/v3/register/m.login.registration_token/validity?token=a"),
                 404, "M_UNRECOGNIZED")
