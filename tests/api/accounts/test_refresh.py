"""POST /refresh (refresh): rotation, the grace period of the old pair, expiry and soft logout."""
import pytest

from apps.accounts.models import AccessToken, RefreshToken, User
from tests.api.accounts.test_whoami import WHOAMI, logged_in
from tests.conftest import MatrixClient, assert_error

REFRESH = "/_matrix/client/v3/refresh"


def do_refresh(token: str):
    return MatrixClient().post(REFRESH, {"refresh_token": token}, token=None)


def test_refresh_issues_new_pair(db, settings):
    c = logged_in(refresh_token=True)
    resp = do_refresh(c.login["refresh_token"])
    assert resp.status_code == 200, resp.json_body
    body = resp.json_body
    assert body["access_token"] != c.token and body["refresh_token"] != c.login["refresh_token"]
    assert body["expires_in_ms"] == settings.HS.refreshable_access_token_lifetime_ms
    assert MatrixClient().get(WHOAMI, token=body["access_token"]).json_body["device_id"] == c.device_id


@pytest.mark.parametrize("prefix", ["r0", "v3", "unstable"])
def test_refresh_version_prefixes(db, prefix):
    c = logged_in(refresh_token=True)
    assert MatrixClient().post(f"/_matrix/client/{prefix}/refresh", {"refresh_token": c.login["refresh_token"]},
                               token=None).status_code == 200


def test_old_pair_works_until_new_access_token_is_used(db):
    c = logged_in(refresh_token=True)
    old_refresh = c.login["refresh_token"]
    new = do_refresh(old_refresh).json_body
    # The client may not have received the response: the old access token still works...
    assert c.get(WHOAMI).status_code == 200
    # ... and the old refresh token may be exchanged again; the unused pair issued before dies.
    retry = do_refresh(old_refresh).json_body
    assert_error(MatrixClient().get(WHOAMI, token=new["access_token"]), 401, "M_UNKNOWN_TOKEN")
    assert_error(do_refresh(new["refresh_token"]), 401, "M_UNKNOWN_TOKEN")
    # Using the new access token retires the old pair.
    assert MatrixClient().get(WHOAMI, token=retry["access_token"]).status_code == 200
    assert_error(c.get(WHOAMI), 401, "M_UNKNOWN_TOKEN")
    err = assert_error(do_refresh(old_refresh), 401, "M_UNKNOWN_TOKEN")
    assert err["soft_logout"] is True
    assert MatrixClient().get(WHOAMI, token=retry["access_token"]).status_code == 200


def test_using_new_refresh_token_retires_old_pair(db):
    """Spec: the old refresh token is revoked when the new access token *or refresh token* is used."""
    c = logged_in(refresh_token=True)
    old_refresh = c.login["refresh_token"]
    second = do_refresh(old_refresh).json_body
    third = do_refresh(second["refresh_token"]).json_body
    assert_error(do_refresh(old_refresh), 401, "M_UNKNOWN_TOKEN")
    assert_error(c.get(WHOAMI), 401, "M_UNKNOWN_TOKEN")
    assert MatrixClient().get(WHOAMI, token=third["access_token"]).status_code == 200
    assert RefreshToken.objects.count() == 1


def test_expired_access_token_then_refresh(db):
    c = logged_in(refresh_token=True)
    AccessToken.objects.update(valid_until_ms=1)
    err = assert_error(c.get(WHOAMI), 401, "M_UNKNOWN_TOKEN")
    assert err["soft_logout"] is True
    new = do_refresh(c.login["refresh_token"]).json_body
    assert MatrixClient().get(WHOAMI, token=new["access_token"]).status_code == 200


def test_expired_refresh_token(db):
    c = logged_in(refresh_token=True)
    RefreshToken.objects.update(expiry_ts=1)
    err = assert_error(do_refresh(c.login["refresh_token"]), 401, "M_UNKNOWN_TOKEN")
    assert err["soft_logout"] is True


def test_session_lifetime_over(db):
    c = logged_in(refresh_token=True)
    RefreshToken.objects.update(ultimate_session_expiry_ts=1)
    assert_error(do_refresh(c.login["refresh_token"]), 401, "M_UNKNOWN_TOKEN")


def test_refresh_unknown_token(db):
    err = assert_error(do_refresh("syr_nope"), 401, "M_UNKNOWN_TOKEN")
    assert err["soft_logout"] is True


def test_refresh_deactivated_user(db):
    c = logged_in(refresh_token=True)
    User.objects.update(deactivated=True)
    assert_error(do_refresh(c.login["refresh_token"]), 401, "M_UNKNOWN_TOKEN")


def test_refresh_token_is_not_an_access_token(db):
    c = logged_in(refresh_token=True)
    assert_error(MatrixClient().get(WHOAMI, token=c.login["refresh_token"]), 401, "M_UNKNOWN_TOKEN")
    assert_error(do_refresh(c.token), 401, "M_UNKNOWN_TOKEN")


@pytest.mark.parametrize("body,errcode", [({}, "M_MISSING_PARAM"), ({"refresh_token": 5}, "M_BAD_JSON"),
                                          ({"refresh_token": ["x"]}, "M_BAD_JSON")])
def test_refresh_bad_body(mx, body, errcode):
    assert_error(mx.post(REFRESH, body, token=None), 400, errcode)


def test_refresh_not_json(mx):
    assert_error(mx.request("POST", REFRESH, raw=b"nope", token=None), 400, "M_NOT_JSON")


def test_refresh_wrong_method(mx):
    assert_error(mx.get(REFRESH, token=None), 405, "M_UNRECOGNIZED")
