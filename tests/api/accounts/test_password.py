"""POST /account/password (changePassword): UIA, logout_devices, policy."""
import pytest

from apps.accounts.models import User
from tests.api.accounts.test_whoami import PW, WHOAMI, logged_in
from tests.conftest import MatrixClient, assert_error

PASSWORD = "/_matrix/client/v3/account/password"
NEW = "new battery horse staple"


def uia_password(session=None, password=PW, user="carol"):
    auth = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": password}
    if session:
        auth["session"] = session
    return auth


def login_status(password, user="carol"):
    return MatrixClient().post("/_matrix/client/v3/login", {"type": "m.login.password", "user": user,
                                                             "password": password}, token=None).status_code


def test_change_password_two_step_uia(db):
    a = logged_in()
    b = logged_in()
    first = a.post(PASSWORD, {"new_password": NEW})
    assert first.status_code == 401
    assert first.json_body["flows"] == [{"stages": ["m.login.password"]}]
    session = first.json_body["session"]
    resp = a.post(PASSWORD, {"auth": uia_password(session)})  # new_password remembered by the session
    assert resp.status_code == 200, resp.json_body
    assert login_status(NEW) == 200 and login_status(PW) == 403
    assert a.get(WHOAMI).status_code == 200  # the requester's session is kept
    assert_error(b.get(WHOAMI), 401, "M_UNKNOWN_TOKEN")  # logout_devices defaults to true


def test_change_password_keep_other_devices(db):
    a = logged_in()
    b = logged_in()
    resp = a.post(PASSWORD, {"new_password": NEW, "logout_devices": False, "auth": uia_password()})
    assert resp.status_code == 200, resp.json_body
    assert b.get(WHOAMI).status_code == 200


def test_change_password_wrong_current_password(db):
    a = logged_in()
    resp = a.post(PASSWORD, {"new_password": NEW, "auth": uia_password(password="wrong")})
    assert resp.status_code == 401
    assert resp.json_body["errcode"] == "M_FORBIDDEN"
    assert login_status(PW) == 200


def test_change_password_uia_for_another_user_fails(db):
    logged_in("dave")
    a = logged_in()
    resp = a.post(PASSWORD, {"new_password": NEW, "auth": uia_password(user="dave")})
    assert resp.status_code == 401 and resp.json_body["errcode"] == "M_FORBIDDEN"


def test_change_password_unauthenticated_form_not_supported(mx):
    assert_error(mx.post(PASSWORD, {"new_password": NEW, "auth": uia_password()}, token=None), 401, "M_MISSING_TOKEN")


def test_change_password_bad_token(mx):
    assert_error(mx.post(PASSWORD, {"new_password": NEW}, token="syt_x"), 401, "M_UNKNOWN_TOKEN")


@pytest.mark.parametrize("body,errcode", [
    ({"new_password": 5}, "M_BAD_JSON"),
    ({"new_password": NEW, "logout_devices": "yes"}, "M_BAD_JSON"),
    ({"new_password": NEW, "auth": "x"}, "M_BAD_JSON"),
    ({"new_password": "x" * 600}, "M_INVALID_PARAM"),
])
def test_change_password_bad_body(db, body, errcode):
    a = logged_in()
    assert_error(a.post(PASSWORD, body), 400, errcode)


def test_change_password_missing_new_password_after_uia(db):
    a = logged_in()
    assert_error(a.post(PASSWORD, {"auth": uia_password()}), 400, "M_MISSING_PARAM")
    assert login_status(PW) == 200


def test_change_password_policy(db, settings):
    from hsproject.config.sections import PasswordPolicy

    settings.HS = settings.HS.replace(password_policy=PasswordPolicy(enabled=True, minimum_length=10,
                                                                     require_digit=True))
    a = logged_in()
    assert_error(a.post(PASSWORD, {"new_password": "short1"}), 400, "M_PASSWORD_TOO_SHORT")
    assert_error(a.post(PASSWORD, {"new_password": "longenough", "auth": uia_password()}), 400, "M_PASSWORD_NO_DIGIT")
    assert a.post(PASSWORD, {"new_password": "longenough1", "auth": uia_password()}).status_code == 200


def test_change_password_not_json(db):
    a = logged_in()
    assert_error(a.request("POST", PASSWORD, raw=b"{"), 400, "M_NOT_JSON")


def test_change_password_wrong_method(db):
    a = logged_in()
    assert_error(a.get(PASSWORD), 405, "M_UNRECOGNIZED")
    assert User.objects.get(localpart="carol").check_password(PW)


def test_the_uia_session_never_stores_the_new_password_in_clear(db):
    from apps.accounts.models import UIASession

    a = logged_in()
    session = a.post(PASSWORD, {"new_password": NEW}).json_body["session"]
    stored = UIASession.objects.get(session_id=session).clientdict
    assert NEW not in repr(stored) and "new_password" not in stored
    # A client cannot smuggle a hash of its own through the session's server-only keys.
    resp = a.post(PASSWORD, {"auth": uia_password(session), "_hs_new_password_hash": "pbkdf2_sha256$1$x$y"})
    assert resp.status_code == 200, resp.json_body
    assert login_status(NEW) == 200
