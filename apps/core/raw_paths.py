"""Path segments that contain an encoded slash.

Room v3 event IDs are standard base64 and may contain '/'; clients send them percent-encoded (`%2F`).
Servers and Django decode the path before URL matching, which would split such an ID into two segments
and make the route miss. So for Matrix paths whose raw form holds `%2F`, the path Django matches is
rebuilt from the raw path with each encoded slash kept inside its segment as a private-use sentinel,
and the routing dispatcher turns the sentinel back into '/' in the captured values.
"""
from __future__ import annotations

from urllib.parse import unquote

SLASH_SENTINEL = "\ue000"


def raw_path(request) -> str | None:
    """The undecoded request path: ASGI's `raw_path`, or a WSGI server's RAW_URI / REQUEST_URI."""
    scope = getattr(request, "scope", None)
    raw = None
    if isinstance(scope, dict) and scope.get("raw_path"):
        raw = scope["raw_path"].decode("latin-1")
    else:
        raw = request.META.get("RAW_URI") or request.META.get("REQUEST_URI")
    if not raw:
        return None
    return raw.split("?", 1)[0]


def path_with_encoded_slashes(raw: str) -> str | None:
    """The decoded path with each `%2F` kept as the sentinel; None if there is no encoded slash."""
    if "%2f" not in raw.lower():
        return None
    return "/".join(unquote(segment).replace("/", SLASH_SENTINEL) for segment in raw.split("/"))


def restore(value):
    return value.replace(SLASH_SENTINEL, "/") if isinstance(value, str) else value
