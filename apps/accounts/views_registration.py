"""Views of account registration (spec: client-server API, "Account registration and management").

# POST /_matrix/client/v3/register                                   register
# GET  /_matrix/client/v3/register/available                         checkUsernameAvailability
# GET  /_matrix/client/v1/register/m.login.registration_token/validity registrationTokenValidity
# GET  /_matrix/client/v3/password_policy                            (Synapse's, not in the spec)
"""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.http import HttpRequest

from apps.core import ratelimit
from apps.appservice import handlers as appservice_handlers
from apps.appservice import registry as appservice_registry
from apps.core.errors import Codes, MatrixError, missing_token, unknown_token
from apps.core.http import Endpoint, field, json_body

from . import registration, uia
from .auth import extract_token
from .password_policy import check_password_policy, policy_description

# Where the session of a multi-request registration keeps the password: hashed, never in plain text.
# A client may not supply it (it is stripped from every request body).
_PASSWORD_HASH_KEY = "org.hsproject.password_hash"
_REGISTRATION_PARAMS = ("auth", "username", "password", "device_id", "initial_device_display_name",
                        "inhibit_login", "refresh_token")
_MAX_DEVICE_ID_LENGTH = 255
_MAX_DISPLAY_NAME_LENGTH = 512


def _string_param(body: dict, name: str, max_length: int) -> str | None:
    value = field(body, name, str)
    if value is not None and len(value) > max_length:
        raise MatrixError(Codes.INVALID_PARAM, f"{name} may not be longer than {max_length} characters", 400)
    if value is not None and "\x00" in value:
        raise MatrixError(Codes.INVALID_PARAM, f"{name} may not contain NUL characters", 400)
    return value


def _login_request(body: dict) -> registration.LoginRequest | None:
    """The typed login parameters of a registration body (None when `inhibit_login`)."""
    device_id = _string_param(body, "device_id", _MAX_DEVICE_ID_LENGTH)
    if device_id == "":
        raise MatrixError(Codes.INVALID_PARAM, "device_id may not be empty", 400)
    display_name = _string_param(body, "initial_device_display_name", _MAX_DISPLAY_NAME_LENGTH)
    inhibit = field(body, "inhibit_login", bool, default=False)
    refreshable = field(body, "refresh_token", bool, default=False)
    if inhibit:
        return None
    return registration.LoginRequest(device_id=device_id, display_name=display_name, refreshable=refreshable)


def _app_service_of(request: HttpRequest, body: dict):
    """The application service registering with its as_token (spec: application-service API, "Server admin
    style permissions"), or None for an ordinary registration. The m.login.application_service type without
    a valid as_token is 401 M_MISSING_TOKEN / M_UNKNOWN_TOKEN, as for any bad access token."""
    token = extract_token(request)
    service = appservice_registry.by_as_token(token) if token else None
    if service is None and body.get("type") == appservice_handlers.LOGIN_TYPE and settings.HS.app_services:
        if token is None:
            raise missing_token()
        raise unknown_token()
    return service


class Register(Endpoint):
    operation_id = "register"

    def handle(self, request: HttpRequest, **kwargs):
        body = json_body(request)
        service = _app_service_of(request, body)
        if service is not None:
            if service.rate_limited:
                ratelimit.check(f"register:{ratelimit.client_ip(request)}", settings.HS.rc_registration)
            return appservice_handlers.register_user(service, body)
        ratelimit.check(f"register:{ratelimit.client_ip(request)}", settings.HS.rc_registration)
        kind = request.GET.get("kind", "user")
        if kind == "guest":
            return self._guest(body)
        if kind != "user":
            raise MatrixError(Codes.INVALID_PARAM, "kind must be 'user' or 'guest'", 400)
        flows = registration.registration_flows()

        # Everything this request carries is checked before UIA, so a client learns early (spec).
        # Only the parameters of registration are kept (they are stored with the UIA session).
        body = {k: v for k, v in body.items() if k in _REGISTRATION_PARAMS}
        username = field(body, "username", str)
        if username is not None:
            registration.check_username(username)
        password = body.pop("password", None)
        if password is not None:
            check_password_policy(password)
            body[_PASSWORD_HASH_KEY] = make_password(password)
        _login_request(body)

        results, params, _session = uia.check_auth(body, flows=flows, request=request,
                                                   description="register a new account")
        token = results.get(uia.REGISTRATION_TOKEN)
        try:
            # The parameters of the whole session: an earlier request may have given username/password.
            password_hash = params.get(_PASSWORD_HASH_KEY)
            if password_hash is None:
                raise MatrixError(Codes.MISSING_PARAM, "Missing parameter: password", 400)
            registered = registration.register_user(
                params.get("username"), password_hash=password_hash,
                registration_token=token if isinstance(token, str) else None,
                login=_login_request(params))
        except MatrixError:
            if isinstance(token, str):
                registration.release_registration_token(token)
            raise
        return registered.response()

    def _guest(self, body: dict) -> dict:
        # Spec: for a guest every body parameter but initial_device_display_name is ignored, and the
        # server picks the device id.
        if not settings.HS.allow_guest_access:
            raise MatrixError(Codes.GUEST_ACCESS_FORBIDDEN, "Guest access is disabled", 403)
        display_name = _string_param(body, "initial_device_display_name", _MAX_DISPLAY_NAME_LENGTH)
        registered = registration.register_user(
            None, is_guest=True, login=registration.LoginRequest(display_name=display_name))
        return registered.response()


class CheckUsernameAvailability(Endpoint):
    operation_id = "checkUsernameAvailability"

    def handle(self, request: HttpRequest, **kwargs):
        ratelimit.check(f"register-available:{ratelimit.client_ip(request)}", settings.HS.rc_registration)
        registration.check_registration_enabled()
        username = request.GET.get("username")
        if username is None:
            raise MatrixError(Codes.MISSING_PARAM, "Missing parameter: username", 400)
        registration.check_username(username)
        return {"available": True}


class RegistrationTokenValidity(Endpoint):
    operation_id = "registrationTokenValidity"

    def handle(self, request: HttpRequest, **kwargs):
        # Spec: rate limited against brute force; 403 when registration is not possible at all.
        ratelimit.check(f"register-token-validity:{ratelimit.client_ip(request)}", settings.HS.rc_registration)
        registration.check_registration_enabled()
        token = request.GET.get("token")
        if token is None:
            raise MatrixError(Codes.MISSING_PARAM, "Missing parameter: token", 400)
        return {"valid": bool(token) and uia.registration_token_valid(token)}


class PasswordPolicy(Endpoint):
    """Synapse's `GET /_matrix/client/v3/password_policy` (MSC2000, not in the spec)."""

    operation_id = "synapse_password_policy"

    def handle(self, request: HttpRequest, **kwargs):
        return policy_description()
