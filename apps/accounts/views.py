"""Client-server endpoints of sessions, account management, devices and profiles.

One class per spec `operationId`: parse the body, authenticate, call one function of `handlers`,
shape the response. User-interactive auth (`uia.check_auth`) is run here, since it is part of reading
the request; the operation it authorises is the handler's.
"""
from __future__ import annotations

from django.conf import settings

from apps.appservice import handlers as appservice_handlers
from apps.core import ratelimit
from apps.core.errors import Codes, MatrixError, missing_token
from apps.core.http import Endpoint, field, json_body

from . import handlers, uia
from .auth import authenticate, extract_token, optional_requester

PASSWORD_FLOWS = [[uia.PASSWORD]]


def _uia(request, body: dict, requester, description: str, store_transform=None) -> dict:
    """Run UIA with the password flow for `requester`; returns the merged client dict once complete."""
    _, clientdict, _ = uia.check_auth(body, flows=PASSWORD_FLOWS, request=request,
                                      requester_user=requester.user, description=description,
                                      store_transform=store_transform)
    return clientdict


# --- sessions --------------------------------------------------------------------------------------

class GetLoginFlowsView(Endpoint):
    """GET /_matrix/client/v3/login"""

    operation_id = "getLoginFlows"

    def handle(self, request, **kwargs):
        return {"flows": handlers.login_flows()}


class LoginView(Endpoint):
    """POST /_matrix/client/v3/login"""

    operation_id = "login"

    def handle(self, request, **kwargs):
        body = json_body(request)
        # Offered (getLoginFlows) only when application services are configured; else an unknown type.
        if body.get("type") == appservice_handlers.LOGIN_TYPE and settings.HS.app_services:
            return self._as_service(request, body)
        return handlers.login(
            login_type=field(body, "type", str, required=True),
            identifier=body.get("identifier"),
            legacy_user=body.get("user"),
            medium=body.get("medium"),
            password=body.get("password"),
            device_id=field(body, "device_id", str),
            display_name=field(body, "initial_device_display_name", str),
            refreshable=field(body, "refresh_token", bool, default=False),
            ip=ratelimit.client_ip(request),
        )


    def _as_service(self, request, body):
        """m.login.application_service: the as_token logs in a user of the service's namespace."""
        requester = authenticate(request)
        service = appservice_handlers.require_app_service(requester)
        identifier = body.get("identifier")
        user = identifier.get("user") if isinstance(identifier, dict) else body.get("user")
        if not isinstance(user, str) or not user:
            raise MatrixError(Codes.MISSING_PARAM, "Missing user identifier", 400)
        handlers.check_device_display_name(field(body, "initial_device_display_name", str))
        return appservice_handlers.login_user(
            service, user, device_id=field(body, "device_id", str),
            display_name=field(body, "initial_device_display_name", str),
            refreshable=field(body, "refresh_token", bool, default=False))


class RefreshView(Endpoint):
    """POST /_matrix/client/v3/refresh"""

    operation_id = "refresh"

    def handle(self, request, **kwargs):
        body = json_body(request)
        return handlers.refresh(field(body, "refresh_token", str, required=True))


class LogoutView(Endpoint):
    """POST /_matrix/client/v3/logout"""

    operation_id = "logout"

    def handle(self, request, **kwargs):
        # As Synapse: a session may be ended with an expired token, and guests may log out; so may a
        # locked account (spec: logout is what a locked account can still do).
        requester = authenticate(request, allow_guest=True, allow_expired=True, allow_locked=True)
        handlers.logout(requester)
        return {}


class LogoutAllView(Endpoint):
    """POST /_matrix/client/v3/logout/all"""

    operation_id = "logout_all"

    def handle(self, request, **kwargs):
        requester = authenticate(request, allow_guest=True, allow_expired=True, allow_locked=True)
        handlers.logout_all(requester)
        return {}


class GetTokenOwnerView(Endpoint):
    """GET /_matrix/client/v3/account/whoami"""

    operation_id = "getTokenOwner"

    def handle(self, request, **kwargs):
        return handlers.whoami(authenticate(request, allow_guest=True))


# --- account ---------------------------------------------------------------------------------------

class ChangePasswordView(Endpoint):
    """POST /_matrix/client/v3/account/password

    Only the authenticated form: the unauthenticated one (a reset proved by an email or phone
    validation) needs third-party identifiers, which this server does not bind, so it is 401."""

    operation_id = "changePassword"

    def handle(self, request, **kwargs):
        if extract_token(request) is None:
            raise missing_token()
        requester = authenticate(request)
        body = json_body(request)
        new_password = field(body, "new_password", str)
        field(body, "logout_devices", bool)
        if new_password is not None:
            # Refuse a weak password before the user proves their identity, not after.
            handlers.check_new_password(new_password)
        params = _uia(request, body, requester, "change your password", store_transform=_hash_new_password)
        logout_devices = field(params, "logout_devices", bool, default=True)
        new_password = field(params, "new_password", str)
        if new_password is not None:
            handlers.check_new_password(new_password)
            handlers.change_password(requester, new_password, logout_devices)
            return {}
        stored_hash = params.get(NEW_PASSWORD_HASH)
        if not isinstance(stored_hash, str):
            raise MatrixError(Codes.MISSING_PARAM, "Missing new_password", 400)
        handlers.change_password(requester, None, logout_devices, password_hash=stored_hash)
        return {}


NEW_PASSWORD_HASH = uia.SERVER_KEY_PREFIX + "new_password_hash"


def _hash_new_password(clientdict: dict) -> dict:
    """The UIA session keeps a hash of the new password, never the password (the completing request
    may omit it: the session remembers it, as clients expect)."""
    from django.contrib.auth.hashers import make_password

    new_password = clientdict.pop("new_password", None)
    if isinstance(new_password, str):
        clientdict[NEW_PASSWORD_HASH] = make_password(new_password)
    return clientdict


class DeactivateAccountView(Endpoint):
    """POST /_matrix/client/v3/account/deactivate

    The authenticated form only: with no token, password UIA would have to name the account, which the
    UIA stage here binds to the requester; 401 M_MISSING_TOKEN tells the client to log in first."""

    operation_id = "deactivateAccount"

    def handle(self, request, **kwargs):
        requester = authenticate(request)
        body = json_body(request, required=False)
        erase = field(body, "erase", bool)
        field(body, "id_server", str)
        _uia(request, body, requester, "deactivate your account")
        return handlers.deactivate(requester, erase=bool(erase))


# --- devices ---------------------------------------------------------------------------------------

class GetDevicesView(Endpoint):
    """GET /_matrix/client/v3/devices"""

    operation_id = "getDevices"

    def handle(self, request, **kwargs):
        return handlers.list_devices(authenticate(request))


class GetDeviceView(Endpoint):
    """GET /_matrix/client/v3/devices/{deviceId}"""

    operation_id = "getDevice"

    def handle(self, request, device_id: str, **kwargs):
        requester = authenticate(request)
        return handlers.device_json(handlers.get_device(requester, device_id))


class UpdateDeviceView(Endpoint):
    """PUT /_matrix/client/v3/devices/{deviceId}"""

    operation_id = "updateDevice"

    def handle(self, request, device_id: str, **kwargs):
        requester = authenticate(request)
        body = json_body(request)
        created = handlers.update_device(requester, device_id, field(body, "display_name", str))
        return ({}, 201) if created else {}


class DeleteDeviceView(Endpoint):
    """DELETE /_matrix/client/v3/devices/{deviceId}"""

    operation_id = "deleteDevice"

    def handle(self, request, device_id: str, **kwargs):
        requester = authenticate(request)
        # The body is only the UIA data; the first request of the flow may have none.
        body = json_body(request, required=False)
        handlers.get_device(requester, device_id)  # 404 before asking the user to authenticate
        if requester.app_service is None:  # spec v1.17 "Device management": no UIA for a service
            _uia(request, body, requester, "remove a device from your account")
        handlers.delete_devices(requester, [device_id])
        return {}


class DeleteDevicesView(Endpoint):
    """POST /_matrix/client/v3/delete_devices"""

    operation_id = "deleteDevices"

    def handle(self, request, **kwargs):
        requester = authenticate(request)
        body = json_body(request)
        devices = field(body, "devices", list, required=True)
        if not all(isinstance(d, str) for d in devices):
            raise MatrixError(Codes.BAD_JSON, "devices must be a list of strings", 400)
        if requester.app_service is None:  # spec v1.17 "Device management": no UIA for a service
            _uia(request, body, requester, "remove devices from your account")
        handlers.delete_devices(requester, devices)
        return {}


# --- profile ---------------------------------------------------------------------------------------

def _profile_reader(request) -> None:
    """`require_auth_for_profile_requests` makes profile lookups need a token (as Synapse)."""
    if settings.HS.require_auth_for_profile_requests:
        authenticate(request, allow_guest=True)
    else:
        optional_requester(request, allow_guest=True)


class GetUserProfileView(Endpoint):
    """GET /_matrix/client/v3/profile/{userId}"""

    operation_id = "getUserProfile"

    def handle(self, request, user_id: str, **kwargs):
        _profile_reader(request)
        return handlers.get_profile(user_id)


class GetProfileFieldView(Endpoint):
    """GET /_matrix/client/v3/profile/{userId}/{keyName}"""

    operation_id = "getProfileField"

    def handle(self, request, user_id: str, key_name: str, **kwargs):
        _profile_reader(request)
        return handlers.get_profile_field(user_id, key_name)


class SetProfileFieldView(Endpoint):
    """PUT /_matrix/client/v3/profile/{userId}/{keyName}"""

    operation_id = "setProfileField"

    def handle(self, request, user_id: str, key_name: str, **kwargs):
        requester = authenticate(request)
        body = json_body(request)
        handlers.check_profile_key(key_name)
        if key_name not in body:
            raise MatrixError(Codes.MISSING_PARAM, f"Missing parameter: {key_name}", 400)
        handlers.set_profile_field(requester, user_id, key_name, body[key_name])
        return {}


class DeleteProfileFieldView(Endpoint):
    """DELETE /_matrix/client/v3/profile/{userId}/{keyName}"""

    operation_id = "deleteProfileField"

    def handle(self, request, user_id: str, key_name: str, **kwargs):
        requester = authenticate(request)
        handlers.delete_profile_field(requester, user_id, key_name)
        return {}
