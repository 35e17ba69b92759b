"""POST /logout (logout) and POST /logout/all (logout_all)."""
import pytest

from apps.accounts.models import AccessToken, Device
from tests.api.accounts.test_whoami import WHOAMI, logged_in
from tests.conftest import assert_error

LOGOUT = "/_matrix/client/v3/logout"
LOGOUT_ALL = "/_matrix/client/v3/logout/all"


@pytest.mark.parametrize("prefix", ["api/v1", "r0", "v3", "unstable"])
def test_logout_ends_session_and_deletes_device(db, prefix):
    a = logged_in()
    b = logged_in()
    resp = a.post(f"/_matrix/client/{prefix}/logout")
    assert resp.status_code == 200 and resp.json_body == {}
    assert_error(a.get(WHOAMI), 401, "M_UNKNOWN_TOKEN")
    assert not Device.objects.filter(device_id=a.device_id).exists()
    assert b.get(WHOAMI).status_code == 200


def test_logout_with_expired_token(db):
    a = logged_in()
    AccessToken.objects.update(valid_until_ms=1)
    assert a.post(LOGOUT).status_code == 200
    assert not AccessToken.objects.exists()


def test_logout_twice(db):
    a = logged_in()
    assert a.post(LOGOUT).status_code == 200
    assert_error(a.post(LOGOUT), 401, "M_UNKNOWN_TOKEN")


def test_logout_refresh_token_dies_too(db):
    a = logged_in(refresh_token=True)
    assert a.post(LOGOUT).status_code == 200
    err = assert_error(a.post("/_matrix/client/v3/refresh", {"refresh_token": a.login["refresh_token"]}, token=None),
                       401, "M_UNKNOWN_TOKEN")
    assert err["soft_logout"] is True


def test_logout_all(db):
    a = logged_in()
    b = logged_in()
    other = logged_in("dave")
    resp = a.post(LOGOUT_ALL)
    assert resp.status_code == 200 and resp.json_body == {}
    assert_error(a.get(WHOAMI), 401, "M_UNKNOWN_TOKEN")
    assert_error(b.get(WHOAMI), 401, "M_UNKNOWN_TOKEN")
    assert other.get(WHOAMI).status_code == 200
    assert not Device.objects.filter(user__localpart="carol").exists()


@pytest.mark.parametrize("path", [LOGOUT, LOGOUT_ALL])
def test_logout_auth_errors(mx, path):
    assert_error(mx.post(path, token=None), 401, "M_MISSING_TOKEN")
    assert_error(mx.post(path, token="syt_bogus"), 401, "M_UNKNOWN_TOKEN")


@pytest.mark.parametrize("path", [LOGOUT, LOGOUT_ALL])
def test_logout_wrong_method(db, path):
    a = logged_in()
    assert_error(a.get(path), 405, "M_UNRECOGNIZED")
    assert a.get(WHOAMI).status_code == 200
