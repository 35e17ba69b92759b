"""Shared-secret registration (Synapse's admin API `/_synapse/admin/v1/register`, used by
`register_new_matrix_user` and provisioning scripts).

A client fetches a nonce, then posts the account with
`mac = HMAC-SHA1(registration_shared_secret, nonce \\0 username \\0 password \\0 admin|notadmin [\\0 user_type])`
in hex. Nonces live in the shared cache for 60 seconds, so any process may answer either request, and
each is consumed by its first use (an atomic delete), good MAC or not.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings
from django.core.cache import cache

from apps.core.errors import Codes, MatrixError

NONCE_LIFETIME_S = 60


def _nonce_key(nonce: str) -> str:
    return f"admin-register-nonce:{nonce}"


def shared_secret() -> str:
    secret = settings.HS.registration_shared_secret
    if not secret:
        raise MatrixError(Codes.UNKNOWN, "Shared secret registration is not enabled", 400)
    return secret


def new_nonce() -> str:
    nonce = secrets.token_hex(64)
    cache.set(_nonce_key(nonce), 1, NONCE_LIFETIME_S)
    return nonce


def consume_nonce(nonce: str) -> None:
    """Raise unless `nonce` was issued and not yet used; it is spent either way."""
    if len(nonce) != 128 or not cache.delete(_nonce_key(nonce)):
        raise MatrixError(Codes.UNKNOWN, "unrecognised nonce", 400)


def expected_mac(secret: str, nonce: str, username: str, password: str, admin: bool, user_type: str | None) -> str:
    mac = hmac.new(key=secret.encode("utf-8"), digestmod=hashlib.sha1)
    mac.update(nonce.encode("utf-8"))
    mac.update(b"\x00")
    mac.update(username.encode("utf-8"))
    mac.update(b"\x00")
    mac.update(password.encode("utf-8"))
    mac.update(b"\x00")
    mac.update(b"admin" if admin else b"notadmin")
    if user_type:
        mac.update(b"\x00")
        mac.update(user_type.encode("utf-8"))
    return mac.hexdigest()


def check_mac(got: str, want: str) -> None:
    if not hmac.compare_digest(want.encode("ascii"), got.encode("utf-8")):
        raise MatrixError(Codes.UNKNOWN, "HMAC incorrect", 403)
