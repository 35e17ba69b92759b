"""Client requests that write a single-writer stream, relayed to that stream's writer.

A row of the routing table that `writes` typing, to_device, account_data, receipts, presence or
push_rules is handled only by the stream's writer. When the proxy sent such a request elsewhere (or
the deployment has no proxy rules for it), the receiving process relays the whole request, unchanged,
to the writer's replication listener (`instance_map`), with the replication secret and the client's
address in headers of its own; the writer answers as it would have answered the client, plus the
stream positions it wrote during the request. The relaying process waits until its own view has reached
them (read-after-write) and returns the writer's answer: the client sees no difference.

A relayed request that reaches an instance that does not write the stream either is refused (never
relayed twice: no loops between misconfigured processes).
"""
from __future__ import annotations

import contextvars
import hmac
from typing import Iterator

from django.conf import settings
from django.http import HttpResponse

from apps.core.errors import Codes, MatrixError

SECRET_HEADER = "X-HS-Relay-Secret"
CLIENT_ADDRESS_HEADER = "X-HS-Client-Address"
POSITIONS_HEADER = "X-HS-Positions"
_FORWARDED_REQUEST_HEADERS = ("Authorization", "Content-Type", "User-Agent", "Accept", "Accept-Language")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "server",
               "date", POSITIONS_HEADER.lower()}
RELAY_TIMEOUT_S = 60.0

# The stream positions allocated while handling the current request (by `allocate_position`).
_allocated: contextvars.ContextVar[dict[str, int] | None] = contextvars.ContextVar("hs_allocated", default=None)


def note_allocation(stream: str, position: int) -> None:
    seen = _allocated.get()
    if seen is not None:
        seen[stream] = max(seen.get(stream, 0), position)


def is_relayed(request) -> bool:
    """Whether the request came from another instance with the replication secret (constant time)."""
    given = request.META.get("HTTP_" + SECRET_HEADER.upper().replace("-", "_"))
    secret = settings.HS.workers.worker_replication_secret
    return bool(given and secret and hmac.compare_digest(given.encode(), secret.encode()))


def handle_relayed(request, call) -> HttpResponse:
    """Serve a relayed request on the writer: the client's address, and the positions written."""
    address = request.META.get("HTTP_" + CLIENT_ADDRESS_HEADER.upper().replace("-", "_"))
    if address:
        request.META["REMOTE_ADDR"] = address
    token = _allocated.set({})
    try:
        response = call()
        written = _allocated.get() or {}
    finally:
        _allocated.reset(token)
    if written:
        response[POSITIONS_HEADER] = ",".join(f"{s}={p}" for s, p in sorted(written.items()))
    return response


def relay(request, stream: str, writer: str) -> HttpResponse:
    """Send `request` to `writer` and answer with its response once this process has caught up."""
    import httpx

    from apps.core.raw_paths import raw_path

    from .replication_http import WriterUnavailable, wait_for_position

    topo = settings.HS.workers
    location = topo.instance_map.get(writer)
    if location is None or not topo.worker_replication_secret:
        raise MatrixError(Codes.UNKNOWN, f"The {stream} writer {writer!r} cannot be reached: it needs an "
                          "instance_map entry and worker_replication_secret", 502)
    path = raw_path(request) or request.path
    query = request.META.get("QUERY_STRING", "")
    url = location.base_url + path + (f"?{query}" if query else "")
    headers = {h: request.headers[h] for h in _FORWARDED_REQUEST_HEADERS if h in request.headers}
    headers[SECRET_HEADER] = topo.worker_replication_secret
    headers[CLIENT_ADDRESS_HEADER] = request.META.get("REMOTE_ADDR") or ""
    try:
        with httpx.Client(timeout=RELAY_TIMEOUT_S, trust_env=False) as client:
            upstream = client.request(request.method, url, content=request.body, headers=headers)
    except httpx.HTTPError as e:
        raise WriterUnavailable(writer, type(e).__name__) from None
    for stream_name, position in _positions(upstream.headers.get(POSITIONS_HEADER, "")):
        wait_for_position(stream_name, position)
    response = HttpResponse(upstream.content, status=upstream.status_code)
    for name, value in upstream.headers.items():
        if name.lower() not in _HOP_BY_HOP:
            response[name] = value
    return response


def _positions(header: str) -> Iterator[tuple[str, int]]:
    from .registry import all_streams

    known = {s.name for s in all_streams()}
    for part in header.split(","):
        name, _, value = part.partition("=")
        if name in known and value.isdigit():
            yield name, int(value)
