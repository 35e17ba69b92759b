"""POST /account/deactivate (deactivateAccount)."""
import pytest

from apps.accounts.models import User
from tests.api.accounts.test_password import login_status, uia_password
from tests.api.accounts.test_whoami import PW, WHOAMI, logged_in
from tests.conftest import assert_error

DEACTIVATE = "/_matrix/client/v3/account/deactivate"


def test_deactivate(db):
    a = logged_in()
    b = logged_in()
    a.put("/_matrix/client/v3/profile/@carol:test.local/displayname", {"displayname": "Carol"})
    first = a.post(DEACTIVATE, {})
    assert first.status_code == 401 and first.json_body["flows"] == [{"stages": ["m.login.password"]}]
    resp = a.post(DEACTIVATE, {"auth": uia_password(first.json_body["session"])})
    assert resp.status_code == 200, resp.json_body
    assert resp.json_body == {"id_server_unbind_result": "no-support"}
    user = User.objects.get(localpart="carol")
    assert user.deactivated and user.displayname is None
    assert_error(a.get(WHOAMI), 401, "M_UNKNOWN_TOKEN")
    assert_error(b.get(WHOAMI), 401, "M_UNKNOWN_TOKEN")
    assert login_status(PW) == 403
    assert_error(logged_in("dave").get("/_matrix/client/v3/profile/@carol:test.local"), 404, "M_NOT_FOUND")


def test_deactivate_empty_body_starts_uia(db):
    a = logged_in()
    resp = a.request("POST", DEACTIVATE, raw=b"")
    assert resp.status_code == 401 and "session" in resp.json_body


def test_deactivate_wrong_password(db):
    a = logged_in()
    resp = a.post(DEACTIVATE, {"auth": uia_password(password="wrong")})
    assert resp.status_code == 401 and resp.json_body["errcode"] == "M_FORBIDDEN"
    assert not User.objects.get(localpart="carol").deactivated


def test_deactivate_needs_token(mx):
    assert_error(mx.post(DEACTIVATE, {"auth": uia_password()}, token=None), 401, "M_MISSING_TOKEN")
    assert_error(mx.post(DEACTIVATE, {"auth": uia_password()}, token="syt_nope"), 401, "M_UNKNOWN_TOKEN")


@pytest.mark.parametrize("body,errcode", [({"erase": "yes"}, "M_BAD_JSON"), ({"id_server": 1}, "M_BAD_JSON"),
                                          ({"auth": []}, "M_BAD_JSON")])
def test_deactivate_bad_body(db, body, errcode):
    a = logged_in()
    assert_error(a.post(DEACTIVATE, body), 400, errcode)


def test_deactivate_not_json(db):
    a = logged_in()
    assert_error(a.request("POST", DEACTIVATE, raw=b"[1]"), 400, "M_BAD_JSON")


def test_deactivate_wrong_method(db):
    a = logged_in()
    assert_error(a.get(DEACTIVATE), 405, "M_UNRECOGNIZED")
