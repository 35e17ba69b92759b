"""GET /_matrix/client/v3/register/available (operationId: checkUsernameAvailability)."""
import pytest

from hsproject.config.sections import RateLimit
from tests.conftest import assert_error

URL = "/_matrix/client/v3/register/available"


def test_available(mx):
    resp = mx.get(URL + "?username=alice")
    assert resp.status_code == 200 and resp.json_body == {"available": True}


def test_in_use(mx):
    type(mx)().register("alice")
    assert_error(mx.get(URL + "?username=alice"), 400, "M_USER_IN_USE")


@pytest.mark.parametrize("username", ["Alice", "a%20b", "a:b", "_x", "", "123", "%00", "a" * 300])
def test_invalid(mx, username):
    assert_error(mx.get(URL + "?username=" + username), 400, "M_INVALID_USERNAME")


def test_missing_username(mx):
    assert_error(mx.get(URL), 400, "M_MISSING_PARAM")


def test_registration_disabled(mx, settings):
    settings.HS = settings.HS.replace(enable_registration=False)
    assert_error(mx.get(URL + "?username=alice"), 403, "M_FORBIDDEN")


def test_aliases(mx):
    for v in ("r0", "unstable"):
        assert mx.get(f"/_matrix/client/{v}/register/available?username=bob").json_body == {"available": True}


def test_rate_limited(mx, settings):
    settings.HS = settings.HS.replace(rc_registration=RateLimit(0.1, 2))
    assert mx.get(URL + "?username=a1").status_code == 200
    assert mx.get(URL + "?username=a2").status_code == 200
    resp = mx.get(URL + "?username=a3")
    assert assert_error(resp, 429, "M_LIMIT_EXCEEDED")["retry_after_ms"] > 0
    assert int(resp["Retry-After"]) >= 1
