"""GET /_matrix/client/v3/password_policy (Synapse's, operation id synapse_password_policy) and the
policy checks shared by registration and password change."""
import pytest

from apps.accounts.password_policy import check_password_policy
from apps.core.errors import MatrixError
from hsproject.config.sections import PasswordPolicy

URL = "/_matrix/client/v3/password_policy"
STRICT = PasswordPolicy(enabled=True, minimum_length=10, require_digit=True, require_symbol=True,
                        require_lowercase=True, require_uppercase=True)


def test_disabled_policy_is_empty(mx):
    assert mx.get(URL).json_body == {}


def test_enabled_policy_in_synapse_format(mx, settings):
    settings.HS = settings.HS.replace(password_policy=STRICT)
    assert mx.get(URL).json_body == {"m.minimum_length": 10, "m.require_digit": True, "m.require_symbol": True,
                                     "m.require_lowercase": True, "m.require_uppercase": True}
    for v in ("r0", "unstable"):
        assert mx.get(f"/_matrix/client/{v}/password_policy").json_body["m.minimum_length"] == 10


def test_no_auth_needed(mx):
    assert mx.get(URL, token=None).status_code == 200


@pytest.mark.parametrize("password,errcode", [
    ("Short1!", "M_PASSWORD_TOO_SHORT"),
    ("NoDigitsHere!", "M_PASSWORD_NO_DIGIT"),
    ("NoSymbols123", "M_PASSWORD_NO_SYMBOL"),
    ("nouppercase1!", "M_PASSWORD_NO_UPPERCASE"),
    ("NOLOWERCASE1!", "M_PASSWORD_NO_LOWERCASE"),
    ("x" * 513, "M_INVALID_PARAM"),
    ("Good\x00Pass1!", "M_INVALID_PARAM"),
    (5, "M_BAD_JSON"),
])
def test_policy_errors(settings, password, errcode):
    settings.HS = settings.HS.replace(password_policy=STRICT)
    with pytest.raises(MatrixError) as e:
        check_password_policy(password)
    assert e.value.errcode == errcode and e.value.status == 400


def test_policy_accepts(settings):
    settings.HS = settings.HS.replace(password_policy=STRICT)
    check_password_policy("Correct-Horse-9")


def test_disabled_policy_accepts_anything_short(settings):
    check_password_policy("x")
    with pytest.raises(MatrixError):
        check_password_policy("x" * 513)


def test_registration_reports_policy_error_over_http(mx, settings):
    settings.HS = settings.HS.replace(password_policy=STRICT)
    resp = mx.post("/_matrix/client/v3/register", {"username": "a", "password": "Short1!"}, token=None)
    assert resp.status_code == 400 and resp.json_body["errcode"] == "M_PASSWORD_TOO_SHORT"
