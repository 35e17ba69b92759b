"""Requests made with an application service's `as_token` (spec: application-service API, "Identity
assertion").

The token alone acts as the service's sender (`@sender_localpart:server`, created on first use). With
`?user_id=` it acts as that user, who must be in one of the service's users namespaces (exclusive or
not) and must exist: 403 M_FORBIDDEN otherwise. With `?device_id=` (spec v1.17, "device masquerading",
MSC3202) it acts with that device of the user, which must exist: 400 M_UNKNOWN_DEVICE otherwise.
With `?ts=` on PUT /send and PUT /state, the event gets that origin_server_ts ("Timestamp massaging").
"""
from __future__ import annotations

import re

from django.http import HttpRequest

from apps.core.errors import Codes, MatrixError
from apps.core.ids import UserID, is_local_id

from . import registry


def requester_for_as_token(token: str, request: HttpRequest | None):
    """A `Requester` if `token` is a service's as_token, else None (the caller tries user tokens)."""
    service = registry.by_as_token(token)
    if service is None:
        return None
    from apps.accounts.auth import Requester
    from apps.accounts.models import Device, User

    params = request.GET if request is not None else {}
    user_id = params.get("user_id") or registry.sender_of(service)
    if user_id == registry.sender_of(service):
        user, _ = User.objects.get_or_create(
            localpart=service.sender_localpart,
            defaults={"appservice_id": service.id, "password": "!", "displayname": service.sender_localpart})
    else:
        try:
            UserID.parse(user_id)
        except MatrixError:
            raise MatrixError(Codes.INVALID_PARAM, f"Invalid user_id: {user_id!r}", 400) from None
        if not registry.is_user_in_namespace(service, user_id):
            raise MatrixError(Codes.FORBIDDEN, "Application service cannot masquerade as this user", 403)
        user = User.objects.filter(localpart=UserID.parse(user_id).localpart).first() if is_local_id(user_id) else None
        if user is None:
            raise MatrixError(Codes.FORBIDDEN, "Application service has not registered this user", 403)
    if user.deactivated:
        raise MatrixError(Codes.FORBIDDEN, "This user has been deactivated", 403)
    device = None
    device_id = params.get("device_id") or params.get("org.matrix.msc3202.device_id")
    if device_id:
        device = Device.objects.filter(user=user, device_id=device_id).first()
        if device is None:
            raise MatrixError(Codes.UNKNOWN_DEVICE, "Unknown device for this user", 400)
    return Requester(user=user, device=device, access_token=None, is_guest=False, app_service=service,
                     origin_server_ts=_massaged_ts(request))


# Spec (application-service API, "Timestamp massaging"): `ts` is only valid on these two endpoints; a value
# that is no valid origin_server_ts is a bad request.
_TS_ENDPOINTS = re.compile(r"^/_matrix/client/[^/]+/rooms/[^/]+/(send|state)/")
_MAX_TS = 2 ** 53 - 1


def _massaged_ts(request: HttpRequest | None) -> int | None:
    if request is None or request.method != "PUT" or "ts" not in request.GET:
        return None
    if not _TS_ENDPOINTS.match(request.path):
        return None
    raw = request.GET["ts"]
    if not raw.isdigit() or int(raw) > _MAX_TS:
        raise MatrixError(Codes.INVALID_PARAM, "ts must be a timestamp in milliseconds", 400)
    return int(raw)
