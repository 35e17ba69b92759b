"""Access-token authentication: a request's token -> `Requester`, or the spec's 401 errors.

Tokens come from `Authorization: Bearer` or, deprecated but still used by clients, `?access_token=`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from apps.core.errors import Codes, MatrixError, missing_token, unknown_token

from . import stores
from .models import AccessToken, Device, User
from .tokens import checksum_ok, token_hash


@dataclass
class Requester:
    user: User
    device: Device | None
    # None for an application service's request (its as_token is no access token row).
    access_token: AccessToken | None
    is_guest: bool
    # The application service making the request with its as_token (apps.appservice.auth), else None.
    app_service: Any = None
    # Its `?ts=` on PUT /send and PUT /state ("Timestamp massaging"): the origin_server_ts of the event.
    origin_server_ts: int | None = None

    @property
    def user_id(self) -> str:
        return self.user.user_id

    @property
    def device_id(self) -> str | None:
        return self.device.device_id if self.device else None


def extract_token(request: HttpRequest) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise MatrixError(Codes.MISSING_TOKEN, "Invalid Authorization header", 401)
        return value.strip()
    return request.GET.get("access_token") or None


def now_ms() -> int:
    return int(time.time() * 1000)


def authenticate(request: HttpRequest, *, allow_guest: bool = False, allow_deactivated: bool = False,
                 allow_expired: bool = False, allow_locked: bool = False) -> Requester:
    token = extract_token(request)
    if token is None:
        raise missing_token()
    return authenticate_token(token, request, allow_guest=allow_guest, allow_deactivated=allow_deactivated,
                              allow_expired=allow_expired, allow_locked=allow_locked)


def authenticate_token(token: str, request: HttpRequest | None = None, *, allow_guest: bool = False,
                       allow_deactivated: bool = False, allow_expired: bool = False,
                       allow_locked: bool = False) -> Requester:
    """`allow_expired` and `allow_locked` are for `/logout` only: a client may end a session whose token
    has expired, or whose account is locked."""
    from apps.appservice.auth import requester_for_as_token

    as_requester = requester_for_as_token(token, request)
    if as_requester is not None:
        return as_requester
    if not checksum_ok(token):
        raise unknown_token()
    row = stores.access_token_by_hash(token_hash(token))
    if row is None:
        raise unknown_token()
    if row.valid_until_ms is not None and row.valid_until_ms < now_ms() and not allow_expired:
        # Spec: an expired token that can be refreshed is a soft logout.
        raise unknown_token(soft_logout=True)
    user = row.user
    if user.deactivated and not allow_deactivated:
        raise unknown_token()
    if user.locked and not allow_locked:
        raise locked()
    if user.is_guest and not allow_guest:
        raise MatrixError(Codes.GUEST_ACCESS_FORBIDDEN, "Guest access not allowed", 403)
    if row.refresh_token_id is not None and not row.used:
        stores.mark_access_token_used(row)
    if request is not None and row.device is not None:
        stores.touch_device(row.device, request)
    return Requester(user=user, device=row.device, access_token=row, is_guest=user.is_guest)


def locked() -> MatrixError:
    # Spec (client-server API, "Account locking"): 401 with soft_logout, so the client keeps its session.
    return MatrixError(Codes.USER_LOCKED, "This account has been locked", 401, soft_logout=True)


def suspended() -> MatrixError:
    # Spec (client-server API, "Account suspension"): what a suspended account may not do is 403.
    return MatrixError(Codes.USER_SUSPENDED, "You cannot perform this action while suspended.", 403)


def require_not_suspended(user) -> None:
    if user is not None and getattr(user, "suspended", False):
        raise suspended()


def optional_requester(request: HttpRequest, **kwargs) -> Requester | None:
    if extract_token(request) is None:
        return None
    return authenticate(request, **kwargs)
