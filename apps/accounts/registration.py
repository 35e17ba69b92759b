"""Creating local accounts: the rules shared by `POST /register`, the shared-secret admin API
(`/_synapse/admin/v1/register`) and `manage.py register_new_user`.

Flow of `POST /_matrix/client/v3/register` (spec: client-server API, "Account registration"):
  view: rate limit per IP -> `registration_flows()` (403 when disabled) -> `check_username()` and the
  password policy on what this request carries (the spec asks for M_USER_IN_USE / M_INVALID_USERNAME
  *before* user-interactive auth) -> UIA -> `register_user()` on the merged parameters of the session.
`register_user()` is one transaction: the user row, the registration token's use and the first login
session. The unique localpart is the last word on a race: a concurrent duplicate is M_USER_IN_USE.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Length

from apps.core.errors import Codes, MatrixError
from apps.core.ids import check_new_localpart

from . import uia
from .lifecycle import IssuedSession, issue_session
from .models import RegistrationToken, User

# Synapse's user types (`synapse.api.constants.UserTypes`).
USER_TYPES = ("support", "bot")

# Generated localparts can race each other; retry a few times with the next number.
_GENERATE_ATTEMPTS = 10


def registration_flows() -> list[list[str]]:
    """The UIA flows of `/register`, or 403 M_FORBIDDEN when this server takes no registrations."""
    hs = settings.HS
    if not hs.enable_registration:
        raise MatrixError(Codes.FORBIDDEN, "Registration has been disabled", 403)
    if hs.registration_requires_token:
        return [[uia.REGISTRATION_TOKEN]]
    if hs.enable_registration_without_verification:
        return [[uia.DUMMY]]
    # Email / phone verification is not offered, so no flow could ever complete.
    raise MatrixError(Codes.FORBIDDEN, "Registration requires a verification this server does not offer", 403)


def check_registration_enabled() -> None:
    if not settings.HS.enable_registration:
        raise MatrixError(Codes.FORBIDDEN, "Registration has been disabled", 403)


def localpart_taken(localpart: str) -> bool:
    # Case-insensitive, as Synapse: historical mixed-case accounts still block their lowercase twin.
    return User.objects.filter(localpart__iexact=localpart).exists()


def user_in_use() -> MatrixError:
    return MatrixError(Codes.USER_IN_USE, "User ID already taken.", 400)


def check_username(localpart: object) -> str:
    """Raise M_INVALID_USERNAME / M_USER_IN_USE unless `localpart` may be registered now."""
    if not isinstance(localpart, str):
        raise MatrixError(Codes.INVALID_USERNAME, "username must be a string", 400)
    check_new_localpart(localpart, settings.HS.server_name)
    if localpart.isdigit():
        # Generated (and guest) accounts are numbered; a chosen name may not collide with them.
        raise MatrixError(Codes.INVALID_USERNAME, "Numeric user IDs are reserved for guest users.", 400)
    if localpart_taken(localpart):
        raise user_in_use()
    # Spec (application-service API, "Server admin style permissions"): a name in an application
    # service's exclusive namespace is the service's to create.
    from apps.appservice.registry import check_user_not_exclusive

    check_user_not_exclusive(f"@{localpart}:{settings.HS.server_name}")
    return localpart


def generate_localpart() -> str:
    """The next free numeric localpart (as Synapse: guests and users who gave no username)."""
    highest = (User.objects.filter(localpart__regex=r"^[0-9]+$")
               .annotate(n=Length("localpart")).order_by("-n", "-localpart")
               .values_list("localpart", flat=True).first())
    return str(int(highest) + 1 if highest else 1)


@dataclass(frozen=True)
class LoginRequest:
    """The first session to open for a new account (absent with `inhibit_login`)."""
    device_id: str | None = None
    display_name: str | None = None
    refreshable: bool = False


@dataclass
class Registered:
    user: User
    session: IssuedSession | None

    def response(self) -> dict:
        if self.session is None:
            return {"user_id": self.user.user_id, "home_server": settings.HS.server_name}
        return self.session.as_login_response()


def register_user(
    localpart: str | None,
    *,
    password: str | None = None,
    password_hash: str | None = None,
    admin: bool = False,
    user_type: str | None = None,
    displayname: str | None = None,
    is_guest: bool = False,
    registration_token: str | None = None,
    login: LoginRequest | None = None,
    appservice_id: str | None = None,
) -> Registered:
    """Create a local account (and its first session when `login` is given), atomically.

    `localpart` None means generate a numeric one. A chosen localpart must already have passed
    `check_username` (it is checked again here, the database's unique key deciding a race).
    `password` (plain) or `password_hash` (Django's format) or neither (no password login).
    """
    if user_type is not None and user_type not in USER_TYPES:
        raise MatrixError(Codes.INVALID_PARAM, f"Invalid user type; must be one of {', '.join(USER_TYPES)}", 400)
    generated = localpart is None
    if appservice_id is not None:
        # The service's namespace rules were checked by apps.appservice.handlers.register_user.
        if generated or localpart_taken(localpart):
            raise user_in_use()
    elif not generated:
        check_username(localpart)
    for _ in range(_GENERATE_ATTEMPTS if generated else 1):
        lp = generate_localpart() if generated else localpart
        user = User(localpart=lp, admin=admin, is_guest=is_guest, user_type=user_type, appservice_id=appservice_id,
                    # As Synapse: a new (non-guest) account starts with its localpart as display name.
                    displayname=displayname if displayname is not None else (None if is_guest else lp))
        if password_hash is not None:
            user.password = password_hash
        elif password is not None:
            user.set_password(password)
        else:
            user.set_unusable_password()
        try:
            with transaction.atomic():
                user.save(force_insert=True)
                if registration_token is not None:
                    uia.complete_registration_token(registration_token)
                session = None
                if login is not None:
                    session = issue_session(user, device_id=login.device_id, display_name=login.display_name,
                                            refreshable=login.refreshable)
        except IntegrityError:
            if generated:
                continue
            raise user_in_use() from None
        return Registered(user, session)
    raise MatrixError(Codes.UNKNOWN, "Could not allocate a user ID; try again", 500)


def release_registration_token(token: str) -> None:
    """A registration that had passed the token stage failed: give the pending use back."""
    RegistrationToken.objects.filter(token=token, pending__gt=0).update(pending=F("pending") - 1)
