"""`X-Matrix` request authentication: signing our outbound requests, verifying inbound ones.

Spec: server-server API, "Request Authentication". The signed object is
`{method, uri, origin, destination, content?}` (content only when the request has a body); the
signature travels in `Authorization: X-Matrix origin=...,destination=...,key=...,sig=...`.

Inbound (`authenticate_request`), in this order:
  - no X-Matrix Authorization header, or one that does not parse: 401 M_UNAUTHORIZED;
  - `destination` present and not our server name: 401 M_UNAUTHORIZED (spec);
  - origin not allowed by `federation_domain_whitelist`: 403 M_FORBIDDEN (before any key fetch);
  - the origin's key unknown or not valid now (after asking the keyring): 401 M_UNAUTHORIZED;
  - a signature that does not verify: 401 M_UNAUTHORIZED.
A body that is not a JSON object is 400 M_NOT_JSON.

`FederationEndpoint` is the base of every authenticated federation view: it authenticates, then calls
`handle_federation(request, origin, **kwargs)`.
"""
from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.http import HttpRequest
from signedjson.key import decode_verify_key_bytes
from signedjson.sign import SignatureVerifyException, sign_json, verify_signed_json
from signedjson.types import SigningKey

from apps.core import outbound
from apps.core.errors import Codes, MatrixError
from apps.core.http import Endpoint

from . import signing

# A verify key lookup: (server_name, key_id, minimum_valid_until_ts) -> 32 key bytes, or None.
KeyFetcher = Callable[[str, str, int], "bytes | None"]

_SERVER_NAME_RE = re.compile(
    r"(?:\[[0-9A-Fa-f:.]{2,45}\]|[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[A-Za-z0-9\-.]{1,255})(?::[0-9]{1,5})?"
)
_TOKEN_CHARS = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


@dataclass(frozen=True)
class XMatrixAuth:
    origin: str
    destination: str | None
    key: str
    sig: str


def unauthorized(reason: str) -> MatrixError:
    return MatrixError(Codes.UNAUTHORIZED, reason, 401)


# --- outbound ------------------------------------------------------------------------------------


def request_json(method: str, uri: str, origin: str, destination: str, content: Any = None) -> dict:
    obj: dict[str, Any] = {"method": method, "uri": uri, "origin": origin, "destination": destination}
    if content is not None:
        obj["content"] = content
    return obj


def authorization_header(method: str, uri: str, destination: str, content: Any = None, *,
                         origin: str | None = None, key: SigningKey | None = None) -> str:
    """The Authorization header value for a request we send (defaults: our server name and key).

    `uri` is the request target exactly as sent: path (percent-encoded) plus `?query` if any."""
    origin = origin or settings.HS.server_name
    key = key or signing.signing_key()
    signed = sign_json(request_json(method, uri, origin, destination, content), origin, key)
    key_id, sig = next(iter(signed["signatures"][origin].items()))
    # The sender rules of the spec: lower-case names, no spaces around commas, no backslashes.
    return f'X-Matrix origin="{origin}",destination="{destination}",key="{key_id}",sig="{sig}"'


# --- parsing -------------------------------------------------------------------------------------


def parse_authorization(header: str | None) -> XMatrixAuth:
    """Parses an `X-Matrix` Authorization header (RFC 9110 auth-param syntax, with the spec's
    leniencies: unquoted values may contain colons). Raises 401 M_UNAUTHORIZED if malformed."""
    if not header:
        raise unauthorized("Missing Authorization header")
    scheme, sep, rest = header.partition(" ")
    if scheme.lower() != "x-matrix" or not sep:
        raise unauthorized("Authorization header is not X-Matrix")
    params: dict[str, str] = {}
    s = rest.strip(" \t")
    i, n = 0, len(s)
    while i < n:
        m = re.compile(r"[ \t]*([!#$%&'*+\-.^_`|~0-9A-Za-z]+)[ \t]*=[ \t]*").match(s, i)
        if not m:
            raise unauthorized("Malformed X-Matrix Authorization header")
        name = m.group(1).lower()
        i = m.end()
        if i < n and s[i] == '"':
            i += 1
            value = []
            while True:
                if i >= n:
                    raise unauthorized("Malformed X-Matrix Authorization header: unterminated quote")
                c = s[i]
                if c == "\\":
                    if i + 1 >= n:
                        raise unauthorized("Malformed X-Matrix Authorization header: dangling escape")
                    value.append(s[i + 1])
                    i += 2
                elif c == '"':
                    i += 1
                    break
                else:
                    value.append(c)
                    i += 1
            val = "".join(value)
        else:
            m2 = re.compile(r"[^,\s\"]*").match(s, i)
            val = m2.group(0)
            i = m2.end()
            if not val:
                raise unauthorized("Malformed X-Matrix Authorization header: empty value")
        if name in params:
            raise unauthorized(f"Malformed X-Matrix Authorization header: {name} given twice")
        params[name] = val
        m3 = re.compile(r"[ \t]*(?:,[ \t]*|$)").match(s, i)
        if not m3 or (m3.end() == i and i < n):
            raise unauthorized("Malformed X-Matrix Authorization header")
        i = m3.end()
    origin, key, sig = params.get("origin"), params.get("key"), params.get("sig")
    if not origin or not key or not sig:
        raise unauthorized("X-Matrix Authorization header needs origin, key and sig")
    if not _SERVER_NAME_RE.fullmatch(origin):
        raise unauthorized("X-Matrix origin is not a valid server name")
    return XMatrixAuth(origin, params.get("destination"), key, sig)


# --- inbound -------------------------------------------------------------------------------------


def raw_request_uri(request: HttpRequest) -> str:
    """The request target as the sender wrote it (what it signed): the raw path and query.

    ASGI servers give `raw_path`; WSGI servers `RAW_URI` (gunicorn) or `REQUEST_URI`. Without either
    (Django's test client), the decoded path is percent-encoded again the usual way."""
    scope = getattr(request, "scope", None)
    if isinstance(scope, dict) and scope.get("raw_path"):
        raw = scope["raw_path"].decode("latin-1")
        qs = scope.get("query_string") or b""
        return raw + ("?" + qs.decode("latin-1") if qs else "")
    for key in ("RAW_URI", "REQUEST_URI"):
        value = request.META.get(key)
        if value:
            return value
    path = quote(request.path, safe="/:@!$&'()*+,;=-._~")
    qs = request.META.get("QUERY_STRING", "")
    return path + ("?" + qs if qs else "")


def request_content(request: HttpRequest) -> Any:
    body = request.body
    if not body:
        return None
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise MatrixError(Codes.NOT_JSON, "Content not JSON.", 400) from None


def verify_request(method: str, uri: str, auth_header: str | None, content: Any, *,
                   key_fetcher: KeyFetcher | None = None, now_ms: int | None = None) -> str:
    """Checks an X-Matrix signed request and returns the origin server name (or raises MatrixError)."""
    auth = parse_authorization(auth_header)
    our_name = settings.HS.server_name
    if auth.destination is not None and auth.destination != our_name:
        raise unauthorized(f"Request is for {auth.destination}, not for this server")
    if not outbound.federation_allowed(auth.origin):
        raise MatrixError(Codes.FORBIDDEN, "Federation denied with this server", 403)
    if not auth.key.startswith("ed25519:"):
        raise unauthorized(f"Unsupported key algorithm in {auth.key!r}")
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    if key_fetcher is None:
        from . import keyring

        key_fetcher = keyring.verify_key_bytes
    key_bytes = key_fetcher(auth.origin, auth.key, now_ms)
    if key_bytes is None:
        raise unauthorized(f"Cannot find a currently valid key {auth.key} of {auth.origin}")
    obj = request_json(method, uri, auth.origin, auth.destination if auth.destination is not None else our_name,
                       content)
    obj["signatures"] = {auth.origin: {auth.key: auth.sig}}
    try:
        verify_signed_json(obj, auth.origin, decode_verify_key_bytes(auth.key, key_bytes))
    except SignatureVerifyException:
        raise unauthorized("Invalid X-Matrix signature") from None
    return auth.origin


def _x_matrix_header(request: HttpRequest) -> str | None:
    return request.META.get("HTTP_AUTHORIZATION")


# Called with the origin of every request that authenticates: the outbound sender ends its backoff
# towards a server that has just reached us (apps.federation_sender).
_origin_hooks: list[Callable[[str], None]] = []


def on_origin_authenticated(hook: Callable[[str], None]) -> Callable[[str], None]:
    if hook not in _origin_hooks:
        _origin_hooks.append(hook)
    return hook


def authenticate_request(request: HttpRequest, *, key_fetcher: KeyFetcher | None = None) -> str:
    """The origin server of an inbound federation request, or MatrixError (see module docstring)."""
    header = _x_matrix_header(request)
    parse_authorization(header)  # a missing or malformed header fails before the body is read
    content = request_content(request)
    origin = verify_request(request.method or "GET", raw_request_uri(request), header, content,
                            key_fetcher=key_fetcher)
    for hook in list(_origin_hooks):
        try:
            hook(origin)
        except Exception:  # noqa: BLE001 - a subscriber must not fail the request
            logging.getLogger(__name__).exception("origin hook %r failed for %s", hook, origin)
    return origin


class FederationEndpoint(Endpoint):
    """A federation endpoint that needs a signed request: `handle_federation` gets the origin."""

    def handle(self, request: HttpRequest, **kwargs: Any) -> Any:
        origin = authenticate_request(request)
        request.federation_origin = origin
        return self.handle_federation(request, origin, **kwargs)

    def handle_federation(self, request: HttpRequest, origin: str, **kwargs: Any) -> Any:  # pragma: no cover
        raise NotImplementedError
