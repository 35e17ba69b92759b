"""The Matrix rules of sessions, devices and profiles (spec: client-server API, "Client Authentication",
"Device Management", "Profiles").

Views parse and authenticate, then call one function here; these functions take plain values and a
`Requester`, never a request. Database access goes through `stores` and `lifecycle`.

Login (`POST /login`, m.login.password) runs, in order, as Synapse does:
  1. `rc_login.address` per client IP, counted for every attempt;
  2. the identifier is resolved to a local localpart (case-insensitively, unambiguous matches only);
  3. a localpart locked out by `rc_login.failed_attempts` gets 429 before its password is looked at;
  4. a wrong password or unknown user is one 403 M_FORBIDDEN (same message, and a hash is computed for
     an unknown user too, so neither the answer nor its timing tells whether the account exists), and
     counts as a failed attempt;
  5. a deactivated account with the right password is 403 M_USER_DEACTIVATED;
  6. `rc_login.account` counts successful logins per account; then the session is issued.
"""
from __future__ import annotations

import math
import re
import time

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.cache import cache

from apps.core import ratelimit
from apps.core.errors import Codes, MatrixError
from apps.core.ids import UserID

from . import lifecycle, stores
from .auth import Requester, require_not_suspended
from .backends import localpart_of
from .models import Device, User

PASSWORD_LOGIN = "m.login.password"

# Synapse's limits: MAX_DISPLAYNAME_LEN, MAX_DEVICE_DISPLAY_NAME_LEN; the avatar URL limit is our
# column's width (Synapse allows 1000).
MAX_DISPLAYNAME_LEN = 256
MAX_AVATAR_URL_LEN = 512
MAX_DEVICE_DISPLAY_NAME_LEN = 100
MAX_DEVICE_ID_LEN = 255

_INVALID_LOGIN = "Invalid username or password"


def _now_ms() -> int:
    return int(time.time() * 1000)


# --- login -----------------------------------------------------------------------------------------

def login_flows() -> list[dict]:
    """Only what this server really accepts (spec: getLoginFlows)."""
    flows = []
    if settings.HS.password_enabled:
        flows.append({"type": PASSWORD_LOGIN})
    if settings.HS.app_services:
        flows.append({"type": "m.login.application_service"})
    return flows


def _failed_key(localpart: str) -> str:
    # The same key as the UIA password stage (apps.accounts.uia), so both count against one budget.
    return f"login-failed:{localpart}"


def _check_not_locked_out(localpart: str) -> None:
    """429 while an account is locked out by rc_login.failed_attempts, before its password is tried.

    The shared limiter only has check-and-count; the lock-out window it reports is remembered in the
    shared cache so that every process refuses further guesses, right or wrong, until it ends."""
    until = cache.get(f"login-locked:{localpart}")
    now = _now_ms()
    if until is not None and until > now:
        ms = until - now
        err = MatrixError(Codes.LIMIT_EXCEEDED, "Too many failed login attempts", 429, retry_after_ms=ms)
        err.headers["Retry-After"] = str(max(1, math.ceil(ms / 1000)))
        raise err


def _count_failed_attempt(localpart: str) -> None:
    try:
        ratelimit.check(_failed_key(localpart), settings.HS.rc_login_failed_attempts)
    except MatrixError as err:
        ms = int(err.extra.get("retry_after_ms") or 1000)
        cache.set(f"login-locked:{localpart}", _now_ms() + ms, timeout=max(1, math.ceil(ms / 1000)))
        raise


def _login_localpart(identifier: object, legacy_user: object, medium: object) -> str | None:
    """The localpart a login names, None for an identifier that cannot name a local account."""
    if identifier is not None:
        if not isinstance(identifier, dict):
            raise MatrixError(Codes.BAD_JSON, "identifier must be an object", 400)
        id_type = identifier.get("type")
        if id_type in ("m.id.thirdparty", "m.id.phone"):
            # No third-party identifiers are bound on this server, so none can log in.
            return None
        if id_type != "m.id.user":
            raise MatrixError(Codes.UNKNOWN, f"Unknown login identifier type {id_type!r}", 400)
        user = identifier.get("user")
    elif medium is not None:
        return None  # deprecated top-level 3pid login
    else:
        user = legacy_user
    if user is None:
        raise MatrixError(Codes.MISSING_PARAM, "Missing user identifier", 400)
    if not isinstance(user, str):
        raise MatrixError(Codes.BAD_JSON, "user must be a string", 400)
    if not user.strip():
        raise MatrixError(Codes.MISSING_PARAM, "Missing user identifier", 400)
    return localpart_of(user)


def login(*, login_type: str, identifier: object, legacy_user: object, medium: object, password: object,
          device_id: str | None, display_name: str | None, refreshable: bool, ip: str) -> dict:
    """POST /_matrix/client/v3/login"""
    hs = settings.HS
    ratelimit.check(f"login-ip:{ip}", hs.rc_login_address)
    if login_type != PASSWORD_LOGIN or not hs.password_enabled:
        raise MatrixError(Codes.UNKNOWN, f"Unknown login type {login_type}", 400)
    if not isinstance(password, str):
        raise MatrixError(Codes.BAD_JSON if password is not None else Codes.MISSING_PARAM,
                          "password must be a string", 400)
    if device_id is not None and (not device_id or len(device_id) > MAX_DEVICE_ID_LEN):
        raise MatrixError(Codes.INVALID_PARAM, f"device_id must be 1-{MAX_DEVICE_ID_LEN} characters", 400)
    check_device_display_name(display_name)

    localpart = _login_localpart(identifier, legacy_user, medium)
    user = stores.user_for_login(localpart) if localpart else None
    key = (user.localpart if user else (localpart or "")).lower()
    if key:
        _check_not_locked_out(key)
    if user is None or not user.check_password(password):
        if user is None:
            make_password(password)  # the same hashing time as a real check
        if key:
            _count_failed_attempt(key)
        raise MatrixError(Codes.FORBIDDEN, _INVALID_LOGIN, 403)
    if user.deactivated:
        raise MatrixError(Codes.USER_DEACTIVATED, "This account has been deactivated", 403)
    if user.locked:
        # Spec: a locked account cannot obtain a new access token until it is unlocked.
        from .auth import locked

        raise locked()
    ratelimit.check(f"login-account:{key}", hs.rc_login_account)

    session = lifecycle.issue_session(user, device_id=device_id, display_name=display_name,
                                      refreshable=refreshable)
    out = session.as_login_response()
    out["well_known"] = {"m.homeserver": {"base_url": hs.public_baseurl}}
    return out


def refresh(refresh_token: str) -> dict:
    """POST /_matrix/client/v3/refresh"""
    session = lifecycle.refresh_session(refresh_token)
    if session is None:
        # Spec (refresh, 401): the token is unknown, expired or already used; the client should log in
        # again on the same device, which is what soft_logout tells it.
        raise MatrixError(Codes.UNKNOWN_TOKEN, "Unknown, expired or already used refresh token", 401,
                          soft_logout=True)
    out = {"access_token": session.access_token, "refresh_token": session.refresh_token}
    if session.expires_in_ms is not None:
        out["expires_in_ms"] = session.expires_in_ms
    return out


def logout(requester: Requester) -> None:
    if requester.access_token is None:
        return  # an application service's as_token is configuration, not a session to end
    lifecycle.logout_token(requester.access_token)


def logout_all(requester: Requester) -> None:
    lifecycle.logout_all(requester.user)


def whoami(requester: Requester) -> dict:
    out = {"user_id": requester.user_id, "is_guest": requester.is_guest}
    if requester.device_id is not None:
        out["device_id"] = requester.device_id
    return out


# --- account ---------------------------------------------------------------------------------------

def check_new_password(password: object) -> str:
    """The registration side's policy (apps.accounts.password_policy), when it is installed."""
    if not isinstance(password, str):
        raise MatrixError(Codes.BAD_JSON, "new_password must be a string", 400)
    try:
        from .password_policy import check_password_policy
    except ImportError:  # pragma: no cover - the policy module ships with registration
        if not password:
            raise MatrixError(Codes.WEAK_PASSWORD, "The password may not be empty", 400) from None
    else:
        check_password_policy(password)
    return password


def change_password(requester: Requester, new_password: str | None, logout_devices: bool, *,
                    password_hash: str | None = None) -> None:
    """POST /_matrix/client/v3/account/password (UIA done by the view): the new password, or the hash
    of it the UIA session kept."""
    if not settings.HS.password_enabled:
        raise MatrixError(Codes.FORBIDDEN, "Password changes are disabled on this server", 403)
    lifecycle.set_password(requester.user, new_password, logout_devices=logout_devices,
                           keep_device_id=requester.device_id, keep_access_token_id=requester.access_token.pk if requester.access_token else None,
                           password_hash=password_hash)


def deactivate(requester: Requester, *, erase: bool = False) -> dict:
    """POST /_matrix/client/v3/account/deactivate (UIA done by the view). The account is locked out at
    once; leaving its rooms (and, with `erase`, forgetting its data) is a one-off job on the background
    queue (apps.jobs.deactivation), as the admin API's deactivation. No identity server binding is ever
    made by this server, so there is nothing to unbind."""
    from apps.jobs.deactivation import deactivate_account

    deactivate_account(requester.user, erase=erase)
    return {"id_server_unbind_result": "no-support"}


# --- devices ---------------------------------------------------------------------------------------
def check_device_display_name(display_name: str | None) -> None:
    if display_name is not None and len(display_name) > MAX_DEVICE_DISPLAY_NAME_LEN:
        raise MatrixError(Codes.TOO_LARGE,
                          f"Device display name is too long (max {MAX_DEVICE_DISPLAY_NAME_LEN})", 400)


def device_json(device: Device) -> dict:
    out: dict = {"device_id": device.device_id}
    if device.display_name is not None:
        out["display_name"] = device.display_name
    if device.last_seen_ip is not None:
        out["last_seen_ip"] = device.last_seen_ip
    if device.last_seen_ts is not None:
        out["last_seen_ts"] = device.last_seen_ts
    return out


def list_devices(requester: Requester) -> dict:
    return {"devices": [device_json(d) for d in stores.devices_of(requester.user)]}


def get_device(requester: Requester, device_id: str) -> Device:
    device = stores.device_of(requester.user, device_id)
    if device is None:
        raise MatrixError(Codes.NOT_FOUND, "No device with this ID", 404)
    return device


def update_device(requester: Requester, device_id: str, display_name: str | None) -> bool:
    """PUT /devices/{deviceId}; True when an application service created the device (spec v1.17,
    "Device management": a service creates its users' devices this way, no login needed)."""
    check_device_display_name(display_name)
    if requester.app_service is not None and stores.device_of(requester.user, device_id) is None:
        if not device_id or len(device_id) > MAX_DEVICE_ID_LEN:
            raise MatrixError(Codes.INVALID_PARAM, f"device_id must be 1-{MAX_DEVICE_ID_LEN} characters", 400)
        lifecycle.get_or_create_device(requester.user, device_id, display_name)
        return True
    device = get_device(requester, device_id)
    if display_name is not None and display_name != device.display_name:
        stores.set_device_display_name(device, display_name)
    return False


def delete_devices(requester: Requester, device_ids: list[str]) -> None:
    """Deletes the devices and every token issued to them; unknown ids are ignored (spec: deleteDevices)."""
    lifecycle.delete_devices(requester.user, device_ids)


# --- profile ---------------------------------------------------------------------------------------
# A changed displayname or avatar_url is also sent as a new m.room.member event in every room the user
# is joined to (spec: "Events on Change of Profile Information"): apps.user_directory.profile.

PROFILE_FIELDS = ("displayname", "avatar_url")
# Spec (setProfileField): keyName is avatar_url, displayname, m.tz or a namespaced custom field.
PROFILE_KEY_RE = re.compile(r"(avatar_url|displayname|m\.tz|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+)")
MAX_PROFILE_KEY_BYTES = 255
MXC_RE = re.compile(r"mxc://[A-Za-z0-9.:\[\]-]+/[A-Za-z0-9_-]+")


def check_profile_key(key_name: str) -> str:
    if len(key_name.encode()) > MAX_PROFILE_KEY_BYTES:
        raise MatrixError("M_KEY_TOO_LARGE", f"Profile key may not be longer than {MAX_PROFILE_KEY_BYTES} bytes", 400)
    if not PROFILE_KEY_RE.fullmatch(key_name):
        raise MatrixError(Codes.INVALID_PARAM, "Invalid profile key", 400)
    return key_name


def _profile_owner(user_id: str) -> User:
    """The local, active account whose profile is asked for, else 404."""
    target = UserID.parse(user_id)
    if target.domain != settings.HS.server_name:
        raise MatrixError(Codes.NOT_FOUND, "Profile not found", 404)
    user = stores.user_by_localpart(target.localpart)
    if user is None:
        # Application-service API, "Querying": a service with an exclusive namespace covering the user
        # may create it now; look again if it says it did.
        from apps.appservice.handlers import query_user

        if query_user(str(target)):
            user = stores.user_by_localpart(target.localpart)
    if user is None or user.deactivated:
        raise MatrixError(Codes.NOT_FOUND, "Profile not found", 404)
    return user


def profile_json(user: User) -> dict:
    out = {}
    for key in PROFILE_FIELDS:
        value = getattr(user, key)
        if value:
            out[key] = value
    return out


def _remote_profile(user_id: str, key_name: str | None = None) -> dict | None:
    """The profile of a user of another server, asked of that server; None for a local user."""
    if UserID.parse(user_id).domain == settings.HS.server_name:
        return None
    from apps.federation.queries import profile

    return profile(user_id, key_name)


def get_profile(user_id: str) -> dict:
    remote = _remote_profile(user_id)
    if remote is not None:
        return remote
    return profile_json(_profile_owner(user_id))


def get_profile_field(user_id: str, key_name: str) -> dict:
    check_profile_key(key_name)
    remote = _remote_profile(user_id, key_name)
    if remote is not None:
        if key_name not in remote:
            raise MatrixError(Codes.NOT_FOUND, "Profile field not set", 404)
        return remote
    profile = profile_json(_profile_owner(user_id))
    if key_name not in profile:
        raise MatrixError(Codes.NOT_FOUND, "Profile field not set", 404)
    return {key_name: profile[key_name]}


def _profile_target_for_write(requester: Requester, user_id: str, key_name: str) -> User:
    check_profile_key(key_name)
    target = UserID.parse(user_id)
    if target.domain != settings.HS.server_name:
        raise MatrixError(Codes.FORBIDDEN, "Cannot change the profile of a user of another server", 403)
    if str(target) != requester.user_id and not requester.user.admin:
        raise MatrixError(Codes.FORBIDDEN, "Cannot change another user's profile", 403)
    if key_name not in PROFILE_FIELDS:
        # Only displayname and avatar_url are stored by this server; the m.profile_fields capability
        # must say so. Refusing is what the spec's 403 describes.
        raise MatrixError(Codes.FORBIDDEN, f"Profile field {key_name} is not supported on this server", 403)
    if str(target) == requester.user_id:
        return requester.user
    user = stores.user_by_localpart(target.localpart)
    if user is None or user.deactivated:
        raise MatrixError(Codes.NOT_FOUND, "User not found", 404)
    return user


def _clean_profile_value(key_name: str, value: object) -> str | None:
    if not isinstance(value, str):
        raise MatrixError(Codes.BAD_JSON, f"{key_name} must be a string", 400)
    if key_name == "displayname":
        if len(value) > MAX_DISPLAYNAME_LEN:
            raise MatrixError(Codes.INVALID_PARAM, f"displayname is too long (max {MAX_DISPLAYNAME_LEN})", 400)
    else:
        if len(value) > MAX_AVATAR_URL_LEN:
            raise MatrixError(Codes.INVALID_PARAM, f"avatar_url is too long (max {MAX_AVATAR_URL_LEN})", 400)
        if value and not MXC_RE.fullmatch(value):
            raise MatrixError(Codes.INVALID_PARAM, "avatar_url must be an mxc:// URI", 400)
    # An empty value clears the field, as in Synapse.
    return value or None


def set_profile_field(requester: Requester, user_id: str, key_name: str, value: object) -> None:
    require_not_suspended(requester.user)
    user = _profile_target_for_write(requester, user_id, key_name)
    stores.set_profile_fields(user, **{key_name: _clean_profile_value(key_name, value)})
    _profile_changed(user)


def _profile_changed(user: User) -> None:
    from apps.user_directory.profile import profile_changed

    profile_changed(user)


def delete_profile_field(requester: Requester, user_id: str, key_name: str) -> None:
    require_not_suspended(requester.user)
    check_profile_key(key_name)
    if key_name not in PROFILE_FIELDS:
        # Nothing else is ever stored, so it does not exist: the spec's 200. Permission still applies.
        target = UserID.parse(user_id)
        if str(target) != requester.user_id and not requester.user.admin:
            raise MatrixError(Codes.FORBIDDEN, "Cannot change another user's profile", 403)
        return
    user = _profile_target_for_write(requester, user_id, key_name)
    stores.set_profile_fields(user, **{key_name: None})
    _profile_changed(user)
