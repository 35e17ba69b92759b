"""Access-token authentication and the refresh-token rotation it completes (apps.accounts.auth,
apps.accounts.lifecycle)."""
import pytest

from apps.accounts import auth, lifecycle
from apps.accounts.models import AccessToken, RefreshToken, User
from apps.core.errors import MatrixError


@pytest.fixture
def user(db):
    return User.objects.create_user("unit", "pw")


def test_authenticate_token(user):
    s = lifecycle.issue_session(user, device_id="DEV")
    req = auth.authenticate_token(s.access_token)
    assert req.user_id == "@unit:test.local" and req.device_id == "DEV" and not req.is_guest


@pytest.mark.parametrize("mutate,soft", [
    (lambda: AccessToken.objects.update(valid_until_ms=1), True),
    (lambda: User.objects.update(deactivated=True), False),
    (lambda: AccessToken.objects.all().delete(), False),
])
def test_authenticate_rejections(user, mutate, soft):
    s = lifecycle.issue_session(user)
    mutate()
    with pytest.raises(MatrixError) as exc:
        auth.authenticate_token(s.access_token)
    assert exc.value.errcode == "M_UNKNOWN_TOKEN" and exc.value.extra["soft_logout"] is soft


def test_expired_allowed_for_logout(user):
    s = lifecycle.issue_session(user)
    AccessToken.objects.update(valid_until_ms=1)
    assert auth.authenticate_token(s.access_token, allow_expired=True).user == user


def test_guest_needs_allow_guest(user):
    s = lifecycle.issue_session(user)
    User.objects.update(is_guest=True)
    with pytest.raises(MatrixError) as exc:
        auth.authenticate_token(s.access_token)
    assert exc.value.errcode == "M_GUEST_ACCESS_FORBIDDEN"
    assert auth.authenticate_token(s.access_token, allow_guest=True).is_guest


def test_first_use_of_refreshed_token_retires_old_pair(user):
    s1 = lifecycle.issue_session(user, refreshable=True)
    s2 = lifecycle.refresh_session(s1.refresh_token)
    assert RefreshToken.objects.count() == 2 and AccessToken.objects.count() == 2
    auth.authenticate_token(s1.access_token)  # the old one still works, and retires nothing
    assert RefreshToken.objects.count() == 2
    auth.authenticate_token(s2.access_token)
    assert RefreshToken.objects.count() == 1 and AccessToken.objects.count() == 1
    assert lifecycle.refresh_session(s1.refresh_token) is None
    assert AccessToken.objects.get().used


def test_set_password_keeps_requesters_token_only(user):
    keep = lifecycle.issue_session(user, device_id="KEEP")
    other = lifecycle.issue_session(user, device_id="OTHER")
    req = auth.authenticate_token(keep.access_token)
    lifecycle.set_password(user, "new", keep_device_id="KEEP", keep_access_token_id=req.access_token.pk)
    assert auth.authenticate_token(keep.access_token).device_id == "KEEP"
    with pytest.raises(MatrixError):
        auth.authenticate_token(other.access_token)
    assert User.objects.get().check_password("new")
