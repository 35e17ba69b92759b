"""The Matrix rules of application services on the client-server side (spec: application-service API,
"Client-Server API Extensions"), and the queries the homeserver makes to them for unknown users and
aliases ("Querying").

    POST /register (type m.login.application_service)     register_user
    POST /login    (type m.login.application_service)     login_user
    POST /_matrix/client/v1/appservice/{id}/ping            ping
    PUT  /directory/list/appservice/{networkId}/{roomId}    set_room_listed
"""
from __future__ import annotations

import time

import httpx
from django.conf import settings

from apps.core.errors import Codes, MatrixError
from apps.core.ids import LOCALPART_RE, MAX_USER_ID_LENGTH, UserID
from hsproject.config.appservices import AppServiceRegistration

from . import client, registry, stores

LOGIN_TYPE = "m.login.application_service"


def require_app_service(requester) -> AppServiceRegistration:
    service = getattr(requester, "app_service", None)
    if service is None:
        raise MatrixError(Codes.FORBIDDEN, "Only application services may use this endpoint", 403)
    return service


# --- registration and login ---------------------------------------------------------------------------------

def check_localpart_for(service: AppServiceRegistration, localpart: object) -> str:
    """A localpart the service may register: grammatical, in its users namespace, in no other
    service's exclusive namespace. Leading underscores are fine: they are the services' convention."""
    if not isinstance(localpart, str) or not localpart:
        raise MatrixError(Codes.MISSING_PARAM if localpart is None else Codes.INVALID_USERNAME,
                          "username is required for application service registration", 400)
    if not LOCALPART_RE.fullmatch(localpart):
        raise MatrixError(Codes.INVALID_USERNAME, "User ID can only contain characters a-z, 0-9, or '=_-./+'", 400)
    user_id = f"@{localpart}:{settings.HS.server_name}"
    if len(user_id.encode()) > MAX_USER_ID_LENGTH:
        raise MatrixError(Codes.INVALID_USERNAME, f"User ID may not be longer than {MAX_USER_ID_LENGTH} characters",
                          400)
    if not registry.is_user_in_namespace(service, user_id):
        raise MatrixError(Codes.EXCLUSIVE, "This user ID is not in the application service's namespace", 400)
    registry.check_user_not_exclusive(user_id, allowed=service)
    return localpart


def register_user(service: AppServiceRegistration, body: dict) -> dict:
    """POST /register with the as_token: a passwordless user in the service's namespace (no UIA)."""
    from apps.accounts.registration import LoginRequest, register_user as create_account

    if body.get("type") != LOGIN_TYPE:
        raise MatrixError(Codes.INVALID_PARAM, f"An application service must register with type {LOGIN_TYPE}",
                          400)
    localpart = body.get("username")
    if isinstance(localpart, str) and localpart.startswith("@"):
        # Some services send a full user ID; it must be one of ours.
        parsed = UserID.parse(localpart)
        if parsed.domain != settings.HS.server_name:
            raise MatrixError(Codes.INVALID_USERNAME, "Cannot register a user of another server", 400)
        localpart = parsed.localpart
    localpart = check_localpart_for(service, localpart)
    inhibit = body.get("inhibit_login", False)
    if not isinstance(inhibit, bool):
        raise MatrixError(Codes.BAD_JSON, "inhibit_login must be a boolean", 400)
    login = None
    if not inhibit:
        device_id = body.get("device_id")
        display_name = body.get("initial_device_display_name")
        if device_id is not None and (not isinstance(device_id, str) or not device_id or len(device_id) > 255):
            raise MatrixError(Codes.INVALID_PARAM, "device_id must be a string of 1-255 characters", 400)
        if display_name is not None and not isinstance(display_name, str):
            raise MatrixError(Codes.BAD_JSON, "initial_device_display_name must be a string", 400)
        login = LoginRequest(device_id=device_id, display_name=display_name,
                             refreshable=body.get("refresh_token") is True)
    registered = create_account(localpart, appservice_id=service.id, login=login)
    return registered.response()


def login_user(service: AppServiceRegistration, user: str, *, device_id: str | None, display_name: str | None,
               refreshable: bool) -> dict:
    """POST /login with m.login.application_service: a session for a user of the service's namespace."""
    from apps.accounts import lifecycle, stores as account_stores
    from apps.accounts.backends import localpart_of

    localpart = localpart_of(user)
    user_id = f"@{localpart}:{settings.HS.server_name}"
    if not registry.is_user_in_namespace(service, user_id):
        raise MatrixError(Codes.EXCLUSIVE, "This user is not in the application service's namespace", 403)
    account = account_stores.user_by_localpart(localpart)
    if account is None:
        raise MatrixError(Codes.FORBIDDEN, "Invalid username", 403)
    if account.deactivated:
        raise MatrixError(Codes.USER_DEACTIVATED, "This account has been deactivated", 403)
    session = lifecycle.issue_session(account, device_id=device_id, display_name=display_name,
                                      refreshable=refreshable)
    out = session.as_login_response()
    out["well_known"] = {"m.homeserver": {"base_url": settings.HS.public_baseurl}}
    return out


# --- ping ---------------------------------------------------------------------------------------------------

def ping(requester, appservice_id: str, transaction_id: str | None) -> dict:
    """POST /_matrix/client/v1/appservice/{appserviceId}/ping (spec: appservice_ping.yaml)."""
    service = getattr(requester, "app_service", None)
    if service is None or service.id != appservice_id:
        raise MatrixError(Codes.FORBIDDEN, "Provided access token is not the appservice's as_token", 403)
    if service.url is None:
        raise MatrixError(Codes.URL_NOT_SET, "Application service doesn't have a URL configured", 400)
    start = time.monotonic()
    try:
        resp = client.ping(service, transaction_id)
    except httpx.TimeoutException:
        raise MatrixError(Codes.CONNECTION_TIMEOUT, "Connection to application service timed out", 504) from None
    except httpx.HTTPError as e:
        raise MatrixError(Codes.CONNECTION_FAILED, f"Connection to application service failed: {type(e).__name__}",
                          502) from None
    duration_ms = int((time.monotonic() - start) * 1000)
    if not 200 <= resp.status_code < 300:
        err = MatrixError(Codes.BAD_STATUS, f"Ping returned status {resp.status_code}", 502)
        # `status` would clash with the constructor's own argument: the extra fields are set directly.
        err.extra.update({"status": resp.status_code, "body": resp.text[:1000]})
        raise err
    return {"duration_ms": duration_ms}


# --- published room directory -------------------------------------------------------------------------------

def set_room_listed(requester, network_id: str, room_id: str, visibility: object) -> None:
    """PUT /directory/list/appservice/{networkId}/{roomId}"""
    from apps.rooms.stores import get_room

    service = require_app_service(requester)
    if visibility not in ("public", "private"):
        raise MatrixError(Codes.INVALID_PARAM, "visibility must be 'public' or 'private'", 400)
    if not network_id:
        raise MatrixError(Codes.INVALID_PARAM, "networkId may not be empty", 400)
    if get_room(room_id) is None:
        raise MatrixError(Codes.NOT_FOUND, "Unknown room", 404)
    stores.set_room_listed(service.id, network_id, room_id, visibility == "public")


def listed_rooms(third_party_instance_id: str | None) -> list[str]:
    """The rooms services published for one network, named as Synapse names it: "<appservice id>|<network
    id>" (None: every service's every network, for publicRooms' include_all_networks)."""
    if third_party_instance_id is None:
        return stores.listed_rooms(None)
    service_id, sep, network_id = third_party_instance_id.partition("|")
    if not sep or registry.by_id(service_id) is None:
        return []
    return stores.listed_rooms(service_id, network_id)


# --- queries for unknown entities ----------------------------------------------------------------------------

def query_alias(alias: str) -> bool:
    """Ask the services whose aliases namespace covers an unknown local `alias` to create it (spec:
    "Querying"); True once one of them says it did. The caller looks the alias up again."""
    for service in registry.services():
        if service.url is not None and registry.is_alias_in_namespace(service, alias):
            if client.query_alias(service, alias):
                return True
    return False


def query_user(user_id: str) -> bool:
    """As `query_alias`, for an unknown local user in a service's EXCLUSIVE users namespace."""
    for service in registry.services():
        if service.url is not None and registry.is_exclusive_user(service, user_id):
            if client.query_user(service, user_id):
                return True
    return False
