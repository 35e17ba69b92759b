"""Client-server endpoints of end-to-end encryption: keys, cross-signing, key backup. One class per spec
`operationId`; the rules are in `handlers`, `cross_signing` and `backup`."""
from __future__ import annotations

from apps.accounts import uia
from apps.accounts.auth import authenticate
from apps.core.errors import Codes, MatrixError
from apps.core.http import Endpoint, json_body

from . import backup, cross_signing, handlers

PASSWORD_FLOWS = [[uia.PASSWORD]]


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _body(request) -> dict:
    """The JSON body; no Matrix ID, key ID or key of this API holds U+0000, which PostgreSQL cannot store
    or compare in text: refused as bad JSON rather than failing in the database."""
    body = json_body(request)
    if _has_nul(body):
        raise MatrixError(Codes.BAD_JSON, "Strings may not contain NUL characters", 400)
    return body


def _clean(*values) -> None:
    if any(_has_nul(v) for v in values):
        raise MatrixError(Codes.INVALID_PARAM, "Parameters may not contain NUL characters", 400)


# --- keys ------------------------------------------------------------------------------------------------

class UploadKeysView(Endpoint):
    """POST /_matrix/client/v3/keys/upload"""

    operation_id = "uploadKeys"

    def handle(self, request, **kwargs):
        requester = authenticate(request, allow_guest=True)  # spec: Guest Access module
        return handlers.upload_keys(requester, _body(request))


class QueryKeysView(Endpoint):
    """POST /_matrix/client/v3/keys/query"""

    operation_id = "queryKeys"

    def handle(self, request, **kwargs):
        requester = authenticate(request, allow_guest=True)  # spec: Guest Access module
        return handlers.query_keys(requester, _body(request))


class ClaimKeysView(Endpoint):
    """POST /_matrix/client/v3/keys/claim"""

    operation_id = "claimKeys"

    def handle(self, request, **kwargs):
        requester = authenticate(request, allow_guest=True)  # spec: Guest Access module
        return handlers.claim_keys(requester, _body(request))


class GetKeysChangesView(Endpoint):
    """GET /_matrix/client/v3/keys/changes"""

    operation_id = "getKeysChanges"

    def handle(self, request, **kwargs):
        requester = authenticate(request)
        from_token, to_token = request.GET.get("from"), request.GET.get("to")
        _clean(from_token, to_token)
        if from_token is None or to_token is None:
            raise MatrixError(Codes.MISSING_PARAM, "The from and to query parameters are required", 400)
        return handlers.key_changes(requester, from_token, to_token)


# --- cross-signing ---------------------------------------------------------------------------------------

class UploadCrossSigningKeysView(Endpoint):
    """POST /_matrix/client/v3/keys/device_signing/upload

    UIA is asked for only when the upload would replace a stored key (see `cross_signing`); the keys
    of the request that started the UIA session are the ones uploaded."""

    operation_id = "uploadCrossSigningKeys"

    def handle(self, request, **kwargs):
        requester = authenticate(request)
        body = _body(request)
        # Spec (v1.17): an application service needs no UIA here.
        if getattr(requester, "app_service", None) is None and cross_signing.needs_uia(requester, body):
            _, body, _ = uia.check_auth(body, flows=PASSWORD_FLOWS, request=request,
                                        requester_user=requester.user,
                                        description="replace your cross-signing keys")
        cross_signing.upload_keys(requester, body)
        return {}


class UploadCrossSigningSignaturesView(Endpoint):
    """POST /_matrix/client/v3/keys/signatures/upload"""

    operation_id = "uploadCrossSigningSignatures"

    def handle(self, request, **kwargs):
        requester = authenticate(request)
        return cross_signing.upload_signatures(requester, _body(request))


# --- key backup ------------------------------------------------------------------------------------------

class RoomKeysVersionView(Endpoint):
    """POST /_matrix/client/v3/room_keys/version"""

    operation_id = "postRoomKeysVersion"

    def handle(self, request, **kwargs):
        return backup.create_version(authenticate(request), _body(request))


class GetRoomKeysVersionCurrentView(Endpoint):
    """GET /_matrix/client/v3/room_keys/version"""

    operation_id = "getRoomKeysVersionCurrent"

    def handle(self, request, **kwargs):
        return backup.get_version(authenticate(request), None)


class GetRoomKeysVersionView(Endpoint):
    """GET /_matrix/client/v3/room_keys/version/{version}"""

    operation_id = "getRoomKeysVersion"

    def handle(self, request, version: str, **kwargs):
        return backup.get_version(authenticate(request), version)


class PutRoomKeysVersionView(Endpoint):
    """PUT /_matrix/client/v3/room_keys/version/{version}"""

    operation_id = "putRoomKeysVersion"

    def handle(self, request, version: str, **kwargs):
        requester = authenticate(request)
        return backup.update_version(requester, version, _body(request))


class DeleteRoomKeysVersionView(Endpoint):
    """DELETE /_matrix/client/v3/room_keys/version/{version}"""

    operation_id = "deleteRoomKeysVersion"

    def handle(self, request, version: str, **kwargs):
        return backup.delete_version(authenticate(request), version)


class _RoomKeysBase(Endpoint):
    def _args(self, request, kwargs):
        requester = authenticate(request)
        version, room_id, session_id = request.GET.get("version"), kwargs.get("room_id"), kwargs.get("session_id")
        _clean(version, room_id, session_id)
        return requester, version, room_id, session_id


class _PutKeys(_RoomKeysBase):
    def handle(self, request, **kwargs):
        requester, version, room_id, session_id = self._args(request, kwargs)
        return backup.put_keys(requester, version, _body(request), room_id, session_id)


class _GetKeys(_RoomKeysBase):
    def handle(self, request, **kwargs):
        return backup.get_keys(*self._args(request, kwargs))


class _DeleteKeys(_RoomKeysBase):
    def handle(self, request, **kwargs):
        return backup.delete_keys(*self._args(request, kwargs))


class PutRoomKeysView(_PutKeys):
    """PUT /_matrix/client/v3/room_keys/keys"""
    operation_id = "putRoomKeys"


class GetRoomKeysView(_GetKeys):
    """GET /_matrix/client/v3/room_keys/keys"""
    operation_id = "getRoomKeys"


class DeleteRoomKeysView(_DeleteKeys):
    """DELETE /_matrix/client/v3/room_keys/keys"""
    operation_id = "deleteRoomKeys"


class PutRoomKeysByRoomIdView(_PutKeys):
    """PUT /_matrix/client/v3/room_keys/keys/{roomId}"""
    operation_id = "putRoomKeysByRoomId"


class GetRoomKeysByRoomIdView(_GetKeys):
    """GET /_matrix/client/v3/room_keys/keys/{roomId}"""
    operation_id = "getRoomKeysByRoomId"


class DeleteRoomKeysByRoomIdView(_DeleteKeys):
    """DELETE /_matrix/client/v3/room_keys/keys/{roomId}"""
    operation_id = "deleteRoomKeysByRoomId"


class PutRoomKeyBySessionIdView(_PutKeys):
    """PUT /_matrix/client/v3/room_keys/keys/{roomId}/{sessionId}"""
    operation_id = "putRoomKeyBySessionId"


class GetRoomKeyBySessionIdView(_GetKeys):
    """GET /_matrix/client/v3/room_keys/keys/{roomId}/{sessionId}"""
    operation_id = "getRoomKeyBySessionId"


class DeleteRoomKeyBySessionIdView(_DeleteKeys):
    """DELETE /_matrix/client/v3/room_keys/keys/{roomId}/{sessionId}"""
    operation_id = "deleteRoomKeyBySessionId"
