"""OpenID token issue and exchange.

A token is random, handed out once, kept only as its hash, and valid for `TOKEN_LIFETIME_MS`; the
third party's server exchanges it for the user's ID (GET /_matrix/federation/v1/openid/userinfo).
"""
from __future__ import annotations

import hashlib
import secrets
import time

from django.conf import settings

from apps.core.errors import Codes, MatrixError

from . import stores

TOKEN_LIFETIME_MS = 3_600_000


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now_ms() -> int:
    return int(time.time() * 1000)


def request_token(requester_id: str, user_id: str) -> dict:
    if user_id != requester_id:
        raise MatrixError(Codes.FORBIDDEN, "Cannot request an OpenID token for another user", 403)
    now = _now_ms()
    # Expired tokens are dropped as new ones are issued, so the table stays as small as its live tokens.
    stores.delete_expired(now)
    token = secrets.token_urlsafe(32)
    stores.add_token(_hash(token), user_id, now + TOKEN_LIFETIME_MS)
    return {"access_token": token, "token_type": "Bearer", "matrix_server_name": settings.HS.server_name,
            "expires_in": TOKEN_LIFETIME_MS // 1000}


def userinfo(token: str | None) -> dict:
    user_id = stores.user_for_token(_hash(token), _now_ms()) if token else None
    if user_id is None:
        raise MatrixError(Codes.UNKNOWN_TOKEN, "Access token unknown or expired", 401)
    return {"sub": user_id}
