"""GET /_matrix/client/v3/capabilities"""
import pytest

from apps.discovery.room_versions import KNOWN_ROOM_VERSIONS
from tests.conftest import assert_error

PATH = "/_matrix/client/v3/capabilities"


def make_token(localpart="alice", *, deactivated=False, is_guest=False, valid_until_ms=None) -> str:
    """A user, a device and an access token straight in the database (no dependence on /register)."""
    from apps.accounts.models import AccessToken, Device, User
    from apps.accounts.tokens import new_access_token, token_hash, token_prefix

    user = User.objects.create_user(localpart, "pw", deactivated=deactivated, is_guest=is_guest)
    device = Device.objects.create(user=user, device_id="DEV")
    token = new_access_token(localpart)
    AccessToken.objects.create(user=user, device=device, token_hash=token_hash(token),
                               token_prefix=token_prefix(token), valid_until_ms=valid_until_ms)
    return token


@pytest.fixture
def token(db):
    return make_token()


def test_capabilities(mx, token, settings):
    resp = mx.get(PATH, token=token)
    assert resp.status_code == 200, resp.json_body
    caps = resp.json_body["capabilities"]
    assert caps["m.change_password"] == {"enabled": settings.HS.password_enabled}
    assert caps["m.room_versions"] == {"default": settings.HS.default_room_version,
                                       "available": {str(v): "stable" for v in range(1, 13)}}
    assert caps["m.set_displayname"] == {"enabled": True}
    assert caps["m.set_avatar_url"] == {"enabled": True}
    assert caps["m.3pid_changes"] == {"enabled": False}
    assert caps["m.get_login_token"] == {"enabled": False}


def test_default_room_version_is_available(mx, token, settings):
    caps = mx.get(PATH, token=token).json_body["capabilities"]
    assert caps["m.room_versions"]["default"] in caps["m.room_versions"]["available"]
    assert caps["m.room_versions"]["available"] == KNOWN_ROOM_VERSIONS


def test_follows_configuration(mx, token, settings):
    settings.HS = settings.HS.replace(password_enabled=False, default_room_version="10")
    caps = mx.get(PATH, token=token).json_body["capabilities"]
    assert caps["m.change_password"] == {"enabled": False}
    assert caps["m.room_versions"]["default"] == "10"


@pytest.mark.parametrize("prefix", ["r0", "v3", "unstable"])
def test_version_prefixes(mx, token, prefix):
    assert mx.get(f"/_matrix/client/{prefix}/capabilities", token=token).status_code == 200


def test_token_in_query_string(mx, token):
    assert mx.get(f"{PATH}?access_token={token}", token=None).status_code == 200


def test_guests_may_ask(mx, db):
    token = make_token("guest1", is_guest=True)
    assert mx.get(PATH, token=token).status_code == 200


def test_missing_token(mx):
    assert_error(mx.get(PATH, token=None), 401, "M_MISSING_TOKEN")


def test_unknown_token(mx, db):
    assert_error(mx.get(PATH, token="syt_bm9ib2R5_notarealtoken_000000"), 401, "M_UNKNOWN_TOKEN")
    assert_error(mx.get(PATH, token="garbage"), 401, "M_UNKNOWN_TOKEN")


def test_bad_authorization_header(mx, db):
    resp = mx.get(PATH, token=None, headers={"Authorization": "Basic Zm9vOmJhcg=="})
    assert_error(resp, 401, "M_MISSING_TOKEN")


def test_deactivated_user(mx, db):
    token = make_token("gone", deactivated=True)
    assert_error(mx.get(PATH, token=token), 401, "M_UNKNOWN_TOKEN")


def test_expired_token_is_soft_logout(mx, db):
    token = make_token("old", valid_until_ms=1)
    body = assert_error(mx.get(PATH, token=token), 401, "M_UNKNOWN_TOKEN")
    assert body["soft_logout"] is True


def test_wrong_method(mx, token):
    assert_error(mx.post(PATH, {}, token=token), 405, "M_UNRECOGNIZED")


def test_v1_prefix_is_not_served(mx, token):
    assert_error(mx.get("/_matrix/client/api/v1/capabilities", token=token), 404, "M_UNRECOGNIZED")


def test_registered_user(alice):
    resp = alice.get(PATH)
    assert resp.status_code == 200, resp.json_body
    assert "m.room_versions" in resp.json_body["capabilities"]
