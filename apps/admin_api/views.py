"""Views of the Synapse-compatible admin API.

# GET  /_synapse/admin/v1/register    a nonce for shared-secret registration
# POST /_synapse/admin/v1/register    register with the nonce and an HMAC of the shared secret
# POST /_synapse/admin/v1/purge_history/{roomId}[/{eventId}]   purge a room's history (a job)
# GET  /_synapse/admin/v1/purge_history_status/{purgeId}        how that purge is going
# POST /_synapse/admin/v1/deactivate/{userId}                   deactivate an account (rooms left in a job)
"""
from __future__ import annotations

from django.http import HttpRequest

from apps.accounts import registration
from apps.core.errors import Codes, MatrixError
from apps.core.http import Endpoint, json_body

from . import handlers, jobs
from .auth import require_server_admin

_MAX_FIELD = 512


def _required_str(body: dict, name: str) -> str:
    # Synapse's messages and codes, which its tools expect.
    if name not in body:
        raise MatrixError(Codes.BAD_JSON, f"{name} must be specified", 400)
    value = body[name]
    if not isinstance(value, str) or len(value) > _MAX_FIELD or "\x00" in value:
        raise MatrixError(Codes.INVALID_PARAM, f"Invalid {name}", 400)
    return value


class SharedSecretRegisterNonce(Endpoint):
    operation_id = "synapse_admin_register_nonce"

    def handle(self, request: HttpRequest, **kwargs):
        handlers.shared_secret()
        return {"nonce": handlers.new_nonce()}


class SharedSecretRegister(Endpoint):
    operation_id = "synapse_admin_register"

    def handle(self, request: HttpRequest, **kwargs):
        secret = handlers.shared_secret()
        body = json_body(request)
        nonce = _required_str(body, "nonce")
        handlers.consume_nonce(nonce)
        username = _required_str(body, "username")
        password = _required_str(body, "password")
        admin = body.get("admin")
        if admin is not None and not isinstance(admin, bool):
            raise MatrixError(Codes.INVALID_PARAM, "admin must be true or false", 400)
        user_type = body.get("user_type")
        if user_type is not None and user_type not in registration.USER_TYPES:
            raise MatrixError(Codes.INVALID_PARAM, "Invalid user type", 400)
        displayname = body.get("displayname")
        if displayname is not None and (not isinstance(displayname, str) or len(displayname) > _MAX_FIELD
                                        or "\x00" in displayname):
            raise MatrixError(Codes.INVALID_PARAM, "Invalid displayname", 400)
        refreshable = body.get("refresh_token", False)
        if not isinstance(refreshable, bool):
            raise MatrixError(Codes.INVALID_PARAM, "refresh_token should be true or false.", 400)
        mac = _required_str(body, "mac")
        handlers.check_mac(mac, handlers.expected_mac(secret, nonce, username, password, bool(admin), user_type))

        # As Synapse, the name is lowercased after the MAC check (its tools send what the admin typed).
        registered = registration.register_user(
            username.lower(), password=password, admin=bool(admin), user_type=user_type, displayname=displayname,
            login=registration.LoginRequest(refreshable=refreshable))
        return registered.response()


class PurgeHistory(Endpoint):
    operation_id = "synapse_admin_purge_history"

    def handle(self, request: HttpRequest, room_id: str, event_id: str | None = None, **kwargs):
        require_server_admin(request)
        return jobs.start_purge(room_id, event_id, json_body(request, required=False))


class PurgeHistoryStatus(Endpoint):
    operation_id = "synapse_admin_purge_history_status"

    def handle(self, request: HttpRequest, purge_id: str, **kwargs):
        require_server_admin(request)
        return jobs.purge_status(purge_id)


class DeactivateUser(Endpoint):
    operation_id = "synapse_admin_deactivate_user"

    def handle(self, request: HttpRequest, user_id: str, **kwargs):
        require_server_admin(request)
        return jobs.deactivate(user_id, json_body(request, required=False))
