"""The one Matrix error type and the error codes of the spec.

Raise `MatrixError(Codes.FORBIDDEN, "...", 403)` from anywhere; `middleware.MatrixErrorMiddleware`
renders it as `{"errcode": ..., "error": ...}` plus any extra fields (e.g. `retry_after_ms`).
"""
from __future__ import annotations

from typing import Any


class Codes:
    UNKNOWN = "M_UNKNOWN"
    UNRECOGNIZED = "M_UNRECOGNIZED"
    FORBIDDEN = "M_FORBIDDEN"
    NOT_JSON = "M_NOT_JSON"
    BAD_JSON = "M_BAD_JSON"
    MISSING_PARAM = "M_MISSING_PARAM"
    INVALID_PARAM = "M_INVALID_PARAM"
    MISSING_TOKEN = "M_MISSING_TOKEN"
    UNKNOWN_TOKEN = "M_UNKNOWN_TOKEN"
    LIMIT_EXCEEDED = "M_LIMIT_EXCEEDED"
    USER_IN_USE = "M_USER_IN_USE"
    INVALID_USERNAME = "M_INVALID_USERNAME"
    EXCLUSIVE = "M_EXCLUSIVE"
    NOT_FOUND = "M_NOT_FOUND"
    TOO_LARGE = "M_TOO_LARGE"
    USER_DEACTIVATED = "M_USER_DEACTIVATED"
    USER_LOCKED = "M_USER_LOCKED"
    USER_SUSPENDED = "M_USER_SUSPENDED"
    WEAK_PASSWORD = "M_WEAK_PASSWORD"
    PASSWORD_TOO_SHORT = "M_PASSWORD_TOO_SHORT"
    PASSWORD_NO_DIGIT = "M_PASSWORD_NO_DIGIT"
    PASSWORD_NO_UPPERCASE = "M_PASSWORD_NO_UPPERCASE"
    PASSWORD_NO_LOWERCASE = "M_PASSWORD_NO_LOWERCASE"
    PASSWORD_NO_SYMBOL = "M_PASSWORD_NO_SYMBOL"
    GUEST_ACCESS_FORBIDDEN = "M_GUEST_ACCESS_FORBIDDEN"
    UNSUPPORTED_ROOM_VERSION = "M_UNSUPPORTED_ROOM_VERSION"
    THREEPID_DENIED = "M_THREEPID_DENIED"
    INVALID_SIGNATURE = "M_INVALID_SIGNATURE"
    UNAUTHORIZED = "M_UNAUTHORIZED"
    NOT_YET_UPLOADED = "M_NOT_YET_UPLOADED"
    # Application services (client-server API "Application Services"; appservice_ping.yaml).
    UNKNOWN_DEVICE = "M_UNKNOWN_DEVICE"
    URL_NOT_SET = "M_URL_NOT_SET"
    BAD_STATUS = "M_BAD_STATUS"
    CONNECTION_FAILED = "M_CONNECTION_FAILED"
    CONNECTION_TIMEOUT = "M_CONNECTION_TIMEOUT"
    WRONG_ROOM_KEYS_VERSION = "M_WRONG_ROOM_KEYS_VERSION"


class MatrixError(Exception):
    """An error a client or server should see as a Matrix error response."""

    def __init__(self, errcode: str, error: str, status: int = 400, **extra: Any):
        super().__init__(f"{errcode}: {error}")
        self.errcode = errcode
        self.error = error
        self.status = status
        self.extra = extra
        self.headers: dict[str, str] = {}

    def body(self) -> dict[str, Any]:
        return {"errcode": self.errcode, "error": self.error, **self.extra}


class InteractiveAuthRequired(Exception):
    """Not an error to log: the 401 of user-interactive auth, whose body is the flows and session."""

    def __init__(self, body: dict[str, Any]):
        super().__init__("user-interactive authentication required")
        self.body = body


def unrecognized(method: str, path: str, *, wrong_method: bool = False) -> MatrixError:
    # Spec (client-server API, "Common error codes"): an unknown endpoint is 404 M_UNRECOGNIZED and a
    # known endpoint with the wrong method is 405 M_UNRECOGNIZED.
    if wrong_method:
        return MatrixError(Codes.UNRECOGNIZED, f"{method} is not supported on {path}", 405)
    return MatrixError(Codes.UNRECOGNIZED, "Unrecognized request", 404)


def missing_token() -> MatrixError:
    return MatrixError(Codes.MISSING_TOKEN, "Missing access token", 401)


def unknown_token(soft_logout: bool = False) -> MatrixError:
    return MatrixError(Codes.UNKNOWN_TOKEN, "Unknown or expired access token", 401, soft_logout=soft_logout)
