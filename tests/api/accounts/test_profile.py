"""GET /profile/{userId} (getUserProfile) and GET/PUT/DELETE /profile/{userId}/{keyName}
(getProfileField, setProfileField, deleteProfileField)."""
import pytest

from apps.accounts.models import User
from tests.api.accounts.test_whoami import logged_in
from tests.conftest import assert_error

CAROL = "@carol:test.local"


def p(user_id=CAROL, key=None, prefix="v3"):
    return f"/_matrix/client/{prefix}/profile/{user_id}" + (f"/{key}" if key else "")


def test_set_and_get_profile(db):
    a = logged_in()
    assert a.put(p(key="displayname"), {"displayname": "Carol C"}).json_body == {}
    assert a.put(p(key="avatar_url"), {"avatar_url": "mxc://test.local/abcDEF_-1"}).status_code == 200
    assert a.get(p()).json_body == {"displayname": "Carol C", "avatar_url": "mxc://test.local/abcDEF_-1"}
    assert a.get(p(key="displayname")).json_body == {"displayname": "Carol C"}
    assert a.get(p(key="avatar_url")).json_body == {"avatar_url": "mxc://test.local/abcDEF_-1"}


@pytest.mark.parametrize("prefix", ["api/v1", "r0", "v3", "unstable"])
def test_profile_prefixes(db, prefix):
    a = logged_in()
    assert a.put(p(key="displayname", prefix=prefix), {"displayname": "C"}).status_code == 200
    assert a.get(p(prefix=prefix)).json_body == {"displayname": "C"}


def test_get_profile_without_token(db, mx):
    logged_in().put(p(key="displayname"), {"displayname": "Carol"})
    assert mx.get(p(), token=None).json_body == {"displayname": "Carol"}
    assert mx.get(p(key="displayname"), token=None).json_body == {"displayname": "Carol"}


def test_get_profile_require_auth(db, mx, settings):
    logged_in()
    settings.HS = settings.HS.replace(require_auth_for_profile_requests=True)
    assert_error(mx.get(p(), token=None), 401, "M_MISSING_TOKEN")
    assert_error(mx.get(p(key="displayname"), token=None), 401, "M_MISSING_TOKEN")
    assert_error(mx.get(p(), token="syt_nope"), 401, "M_UNKNOWN_TOKEN")
    assert logged_in("dave").get(p()).status_code == 200


def test_get_profile_bad_token_when_optional(db, mx):
    logged_in()
    assert_error(mx.get(p(), token="syt_nope"), 401, "M_UNKNOWN_TOKEN")


def test_empty_profile_and_unset_field(db):
    a = logged_in()
    assert a.get(p()).json_body == {}
    assert_error(a.get(p(key="displayname")), 404, "M_NOT_FOUND")
    assert_error(a.get(p(key="m.tz")), 404, "M_NOT_FOUND")
    assert_error(a.get(p(key="org.example.field")), 404, "M_NOT_FOUND")


# Remote profiles are asked of their server: tests/api/federation_outbound/test_remote_queries.py.
@pytest.mark.parametrize("user_id", ["@nobody:test.local"])
def test_get_profile_unknown(db, user_id):
    a = logged_in()
    assert_error(a.get(p(user_id)), 404, "M_NOT_FOUND")
    assert_error(a.get(p(user_id, "displayname")), 404, "M_NOT_FOUND")


def test_get_profile_deactivated(db):
    a = logged_in()
    logged_in("dave")
    User.objects.filter(localpart="dave").update(deactivated=True, displayname="D")
    assert_error(a.get(p("@dave:test.local")), 404, "M_NOT_FOUND")


@pytest.mark.parametrize("user_id", ["carol", "@:test.local", "@carol"])
def test_get_profile_invalid_user_id(db, user_id):
    assert_error(logged_in().get(p(user_id)), 400, "M_INVALID_PARAM")


@pytest.mark.parametrize("key", ["Displayname", "m.TZ", "nodots", "a" * 300 + ".b"])
def test_invalid_profile_key(db, key):
    a = logged_in()
    errcode = "M_KEY_TOO_LARGE" if len(key) > 255 else "M_INVALID_PARAM"
    assert_error(a.get(p(key=key)), 400, errcode)
    assert_error(a.put(p(key=key), {key: "x"}), 400, errcode)
    assert_error(a.delete(p(key=key)), 400, errcode)


def test_clear_with_empty_string_and_delete(db):
    a = logged_in()
    a.put(p(key="displayname"), {"displayname": "Carol"})
    a.put(p(key="avatar_url"), {"avatar_url": "mxc://test.local/x"})
    assert a.put(p(key="displayname"), {"displayname": ""}).status_code == 200
    assert a.get(p()).json_body == {"avatar_url": "mxc://test.local/x"}
    assert a.delete(p(key="avatar_url")).json_body == {}
    assert a.get(p()).json_body == {}
    assert a.delete(p(key="avatar_url")).status_code == 200  # already gone: still 200
    assert a.delete(p(key="org.example.field")).status_code == 200


@pytest.mark.parametrize("key,body,errcode", [
    ("displayname", {"displayname": 5}, "M_BAD_JSON"),
    ("displayname", {"displayname": None}, "M_BAD_JSON"),
    ("displayname", {"displayname": "x" * 257}, "M_INVALID_PARAM"),
    ("displayname", {"avatar_url": "mxc://a/b"}, "M_MISSING_PARAM"),
    ("avatar_url", {"avatar_url": ["mxc://a/b"]}, "M_BAD_JSON"),
    ("avatar_url", {"avatar_url": "https://example.org/a.png"}, "M_INVALID_PARAM"),
    ("avatar_url", {"avatar_url": "mxc://test.local/" + "a" * 600}, "M_INVALID_PARAM"),
    ("avatar_url", {"avatar_url": "mxc://test.local/a/b"}, "M_INVALID_PARAM"),
])
def test_set_profile_bad_values(db, key, body, errcode):
    a = logged_in()
    assert_error(a.put(p(key=key), body), 400, errcode)


def test_set_profile_not_json(db):
    a = logged_in()
    assert_error(a.request("PUT", p(key="displayname"), raw=b"{"), 400, "M_NOT_JSON")
    assert_error(a.request("PUT", p(key="displayname"), raw=b'"x"'), 400, "M_BAD_JSON")


def test_displayname_at_limit(db):
    a = logged_in()
    assert a.put(p(key="displayname"), {"displayname": "é" * 256}).status_code == 200


def test_unsupported_fields_are_refused(db):
    a = logged_in()
    assert_error(a.put(p(key="m.tz"), {"m.tz": "Europe/London"}), 403, "M_FORBIDDEN")
    assert_error(a.put(p(key="org.example.field"), {"org.example.field": 1}), 403, "M_FORBIDDEN")


def test_cannot_set_another_users_profile(db):
    a = logged_in()
    d = logged_in("dave")
    assert_error(d.put(p(key="displayname"), {"displayname": "Hacked"}), 403, "M_FORBIDDEN")
    assert_error(d.delete(p(key="displayname")), 403, "M_FORBIDDEN")
    assert_error(d.delete(p(key="org.example.field")), 403, "M_FORBIDDEN")
    assert_error(a.put(p("@x:remote.example", "displayname"), {"displayname": "x"}), 403, "M_FORBIDDEN")


def test_admin_may_set_another_users_profile(db):
    logged_in()
    admin = logged_in("dave")
    User.objects.filter(localpart="dave").update(admin=True)
    assert admin.put(p(key="displayname"), {"displayname": "Set by admin"}).status_code == 200
    assert admin.get(p()).json_body == {"displayname": "Set by admin"}
    assert_error(admin.put(p("@nobody:test.local", "displayname"), {"displayname": "x"}), 404, "M_NOT_FOUND")


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_profile_write_auth_errors(mx, method):
    assert_error(mx.request(method, p(key="displayname"), {"displayname": "x"}, token=None), 401, "M_MISSING_TOKEN")
    assert_error(mx.request(method, p(key="displayname"), {"displayname": "x"}, token="syt_x"), 401, "M_UNKNOWN_TOKEN")


def test_profile_wrong_method(db):
    a = logged_in()
    assert_error(a.put(p(), {}), 405, "M_UNRECOGNIZED")
    assert_error(a.post(p(key="displayname"), {"displayname": "x"}), 405, "M_UNRECOGNIZED")
