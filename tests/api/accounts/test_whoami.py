"""GET /account/whoami (getTokenOwner), and the access-token authentication every endpoint shares."""
import pytest

from apps.accounts.models import AccessToken, User
from tests.conftest import MatrixClient, assert_error

WHOAMI = "/_matrix/client/v3/account/whoami"
PW = "correct horse battery"


def logged_in(localpart="carol", **login_extra) -> MatrixClient:
    if not User.objects.filter(localpart=localpart).exists():
        User.objects.create_user(localpart, PW)
    c = MatrixClient()
    resp = c.post("/_matrix/client/v3/login", {"type": "m.login.password", "user": localpart, "password": PW,
                                                 **login_extra}, token=None)
    assert resp.status_code == 200, resp.json_body
    c.token, c.user_id, c.device_id = (resp.json_body[k] for k in ("access_token", "user_id", "device_id"))
    c.login = resp.json_body
    return c


def test_whoami(db):
    c = logged_in()
    resp = c.get(WHOAMI)
    assert resp.status_code == 200
    assert resp.json_body == {"user_id": "@carol:test.local", "device_id": c.device_id, "is_guest": False}


@pytest.mark.parametrize("prefix", ["r0", "v3", "unstable"])
def test_whoami_version_prefixes(db, prefix):
    c = logged_in()
    assert c.get(f"/_matrix/client/{prefix}/account/whoami").status_code == 200


def test_whoami_query_parameter_token(db):
    c = logged_in()
    assert c.get(f"{WHOAMI}?access_token={c.token}", token=None).json_body["user_id"] == "@carol:test.local"


def test_whoami_missing_token(mx):
    assert_error(mx.get(WHOAMI, token=None), 401, "M_MISSING_TOKEN")


def test_whoami_bad_authorization_header(mx):
    assert_error(mx.get(WHOAMI, token=None, headers={"Authorization": "Basic abc"}), 401, "M_MISSING_TOKEN")


@pytest.mark.parametrize("token", ["nope", "syt_Y2Fyb2w_aaaaaaaaaaaaaaaaaaaa_000000", "syt_" + "x" * 500])
def test_whoami_unknown_token(db, token):
    logged_in()
    err = assert_error(MatrixClient().get(WHOAMI, token=token), 401, "M_UNKNOWN_TOKEN")
    assert err.get("soft_logout") is False


def test_whoami_expired_token_is_soft_logout(db):
    c = logged_in()
    AccessToken.objects.update(valid_until_ms=1)
    err = assert_error(c.get(WHOAMI), 401, "M_UNKNOWN_TOKEN")
    assert err["soft_logout"] is True


def test_whoami_deactivated_user_token_is_dead(db):
    c = logged_in()
    User.objects.update(deactivated=True)
    assert_error(c.get(WHOAMI), 401, "M_UNKNOWN_TOKEN")


def test_whoami_guest(db):
    c = logged_in()
    User.objects.update(is_guest=True)
    assert c.get(WHOAMI).json_body["is_guest"] is True


def test_whoami_wrong_method(db):
    c = logged_in()
    assert_error(c.post(WHOAMI, {}), 405, "M_UNRECOGNIZED")


def test_whoami_records_last_seen(db):
    c = logged_in()
    c.get(WHOAMI, headers={"User-Agent": "test-agent"})
    devices = c.get("/_matrix/client/v3/devices").json_body["devices"]
    assert devices[0]["last_seen_ip"] == "127.0.0.1"
    assert devices[0]["last_seen_ts"] > 0


def test_whoami_query_count(db, django_assert_max_num_queries):
    """The authenticated-request hot path: one token lookup (with user and device), plus at most one
    last-seen write per device per minute."""
    c = logged_in()
    with django_assert_max_num_queries(2):
        assert c.get(WHOAMI).status_code == 200
    with django_assert_max_num_queries(1):
        assert c.get(WHOAMI).status_code == 200
