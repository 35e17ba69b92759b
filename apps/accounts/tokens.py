"""Access and refresh token strings: `syt_<base64 localpart>_<random>_<crc>` (and `syr_` for refresh).

The localpart is readable so a reverse proxy can route `/sync` by user; the CRC lets a typo be told
apart from a revoked token without a database lookup. Only the SHA-256 of a token is stored.
"""
from __future__ import annotations

import hashlib
import secrets
import string
import zlib

from unpaddedbase64 import encode_base64

_ALPHABET = string.ascii_letters + string.digits
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def _random(n: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(n))


def _base62(n: int, width: int = 6) -> str:
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = _BASE62[r] + out
    return out.rjust(width, "0")


def _make(prefix: str, localpart: str) -> str:
    body = f"{prefix}_{encode_base64(localpart.encode(), urlsafe=True)}_{_random(20)}"
    return f"{body}_{_base62(zlib.crc32(body.encode()))}"


def new_access_token(localpart: str) -> str:
    return _make("syt", localpart)


def new_refresh_token(localpart: str) -> str:
    return _make("syr", localpart)


def checksum_ok(token: str) -> bool:
    body, _, crc = token.rpartition("_")
    return bool(body) and _base62(zlib.crc32(body.encode())) == crc


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_prefix(token: str) -> str:
    return token[:12]


def new_device_id() -> str:
    return "".join(secrets.choice(string.ascii_uppercase) for _ in range(10))
