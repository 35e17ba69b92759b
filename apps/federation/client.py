"""Requests to other homeservers: discovery, the domain whitelist, X-Matrix signing, the guarded client.

    resp = client.request("remote.example", "GET", "/_matrix/federation/v1/version")
    data = client.get_json("remote.example", "/_matrix/key/v2/server", signed=False)

Every request goes through `apps.core.outbound.federation_client()` (IP range guard, TLS settings of
federation, pooling). The URL names the TLS server name of the destination, the Host header is the
one server discovery chose, and an SRV target is reached through `outbound.connect_override`.
"""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import httpx
from canonicaljson import encode_canonical_json

from apps.core import outbound

from . import discovery, transport_auth

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
MAX_RESPONSE_BYTES = 50 * 1024 * 1024


class FederationError(Exception):
    """A request to another server failed: not allowed, unreachable, or answered with an error."""

    def __init__(self, destination: str, message: str, *, status: int | None = None,
                 body: Any = None):
        super().__init__(f"{destination}: {message}")
        self.destination = destination
        self.status = status
        self.body = body

    @property
    def errcode(self) -> str | None:
        return self.body.get("errcode") if isinstance(self.body, dict) else None


def request(destination: str, method: str, path: str, *, query: dict | None = None, content: Any = None,
            signed: bool = True, timeout: httpx.Timeout | float | None = None) -> httpx.Response:
    """Sends one request to `destination` (a server name) and returns the response, whatever its status,
    with its body read (at most MAX_RESPONSE_BYTES, else FederationError).

    `path` must already be percent-encoded; `query` values may be lists (repeated parameters)."""
    try:
        outbound.check_federation_destination(destination)
        addr = discovery.resolve_server(destination)
    except outbound.FederationDenied as e:
        raise FederationError(destination, str(e)) from e
    except discovery.InvalidServerName as e:
        raise FederationError(destination, str(e)) from e
    uri = path + ("?" + urlencode(query, doseq=True) if query else "")
    headers = {"Host": addr.host_header}
    body = None
    if content is not None:
        body = encode_canonical_json(content)
        headers["Content-Type"] = "application/json"
    if signed:
        headers["Authorization"] = transport_auth.authorization_header(method, uri, destination, content)
    c = outbound.federation_client()
    req = c.build_request(method, addr.url(uri), content=body, headers=headers, timeout=timeout or DEFAULT_TIMEOUT)
    try:
        with outbound.connect_override(addr.override()):
            resp = c.send(req, stream=True)
            try:
                data = bytearray()
                for chunk in resp.iter_bytes():
                    data += chunk
                    if len(data) > MAX_RESPONSE_BYTES:
                        raise FederationError(destination, f"response larger than {MAX_RESPONSE_BYTES} bytes",
                                              status=resp.status_code)
            finally:
                resp.close()
    except httpx.HTTPError as e:
        raise FederationError(destination, f"{type(e).__name__}: {e}") from e
    # A response whose body is read and bounded (resp.content is set, the connection released).
    return httpx.Response(resp.status_code, headers=resp.headers, content=bytes(data), request=req)


def request_json(destination: str, method: str, path: str, **kwargs: Any) -> Any:
    """As `request`, then the JSON body of a 2xx response; FederationError for anything else."""
    resp = request(destination, method, path, **kwargs)
    try:
        data = json.loads(resp.content) if resp.content else None
    except (ValueError, UnicodeDecodeError):
        data = None
    if not 200 <= resp.status_code < 300:
        raise FederationError(destination, f"{method} {path} answered {resp.status_code}", status=resp.status_code,
                              body=data)
    if data is None:
        raise FederationError(destination, f"{method} {path} answered a body that is not JSON",
                              status=resp.status_code)
    return data


def get_json(destination: str, path: str, **kwargs: Any) -> Any:
    return request_json(destination, "GET", path, **kwargs)


def post_json(destination: str, path: str, content: Any, **kwargs: Any) -> Any:
    return request_json(destination, "POST", path, content=content, **kwargs)


def put_json(destination: str, path: str, content: Any, **kwargs: Any) -> Any:
    return request_json(destination, "PUT", path, content=content, **kwargs)
