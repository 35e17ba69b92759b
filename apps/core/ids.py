"""Matrix identifiers: parsing and the spec's grammars (appendices, "Identifier Grammar")."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import Codes, MatrixError

# https://spec.matrix.org/latest/appendices/#user-identifiers
LOCALPART_RE = re.compile(r"[a-z0-9._=\-/+]+")
# Historical user IDs may use any printable ASCII but ':'; they may be read, never created.
HISTORICAL_LOCALPART_RE = re.compile(r"[\x21-\x39\x3B-\x7E]+")
MAX_USER_ID_LENGTH = 255


@dataclass(frozen=True)
class UserID:
    localpart: str
    domain: str

    def __str__(self) -> str:
        return f"@{self.localpart}:{self.domain}"

    @classmethod
    def parse(cls, raw: str) -> "UserID":
        if not isinstance(raw, str) or not raw.startswith("@") or ":" not in raw:
            raise MatrixError(Codes.INVALID_PARAM, f"Invalid user ID: {raw!r}", 400)
        localpart, _, domain = raw[1:].partition(":")
        if not localpart or not domain or len(raw.encode()) > MAX_USER_ID_LENGTH:
            raise MatrixError(Codes.INVALID_PARAM, f"Invalid user ID: {raw!r}", 400)
        if not HISTORICAL_LOCALPART_RE.fullmatch(localpart):
            raise MatrixError(Codes.INVALID_PARAM, f"Invalid user ID: {raw!r}", 400)
        return cls(localpart, domain)


def check_new_localpart(localpart: str, server_name: str) -> None:
    """Raise M_INVALID_USERNAME unless `localpart` may name a new account on this server."""
    if not localpart:
        raise MatrixError(Codes.INVALID_USERNAME, "User ID cannot be empty", 400)
    if not LOCALPART_RE.fullmatch(localpart):
        raise MatrixError(Codes.INVALID_USERNAME,
                          "User ID can only contain characters a-z, 0-9, or '=_-./+'", 400)
    if localpart[0] == "_":
        # Leading underscores are reserved for application services and bridges (as in Synapse).
        raise MatrixError(Codes.INVALID_USERNAME, "User ID may not begin with '_'", 400)
    if len(f"@{localpart}:{server_name}".encode()) > MAX_USER_ID_LENGTH:
        raise MatrixError(Codes.INVALID_USERNAME, f"User ID may not be longer than {MAX_USER_ID_LENGTH} characters", 400)


def server_name_of(identifier: str) -> str:
    """The server part of a user, room or alias ID: everything after the FIRST colon (a server name may
    carry a port, `@alice:localhost:8008`)."""
    _, _, domain = identifier.partition(":")
    return domain


def is_local_id(identifier: str) -> bool:
    from django.conf import settings

    return server_name_of(identifier) == settings.HS.server_name
