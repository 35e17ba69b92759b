"""Media of other servers: fetched over federation once, then served from the local cache.

`fetch(origin, media_id)` asks the origin with the authenticated federation endpoint
(`GET /_matrix/federation/v1/media/download/{mediaId}`, a signed request answered with
`multipart/mixed`: a JSON part, then the bytes or a `Location` to fetch them from) and, when the origin
does not know that endpoint, with the deprecated `GET /_matrix/media/v3/download/{origin}/{mediaId}`
(`allow_remote=false`: the origin must not fetch it from a third server for us). Every request goes
through the guarded outbound clients (IP range blacklist, federation domain whitelist). The bytes are
stored like an upload (content-addressed, so a media both local and remote is stored once) and the row
records the origin; thumbnails are then made locally, as for local media.

Spec: client-server API "Content repository" (remote media are fetched by the server), server-server
API "Content repository".
"""
from __future__ import annotations

import email.parser
import email.policy
import logging
from dataclasses import dataclass
from urllib.parse import quote

from django.conf import settings

from apps.core.errors import Codes, MatrixError

from . import stores

logger = logging.getLogger(__name__)

FETCH_TIMEOUT_S = 60.0
REMOTE_TIMEOUT_MS = 20_000


@dataclass
class Fetched:
    data: bytes
    media_type: str
    upload_name: str | None


def _too_large() -> MatrixError:
    return MatrixError(Codes.TOO_LARGE, "Remote media is larger than this server accepts", 502)


def _unavailable(origin: str, why: str) -> MatrixError:
    logger.info("remote media from %s unavailable: %s", origin, why)
    return MatrixError(Codes.UNKNOWN, f"Failed to fetch remote media from {origin}", 502)


def _not_found() -> MatrixError:
    return MatrixError(Codes.NOT_FOUND, "Not found", 404)


def get_or_fetch(origin: str, media_id: str, *, allow_remote: bool = True):
    """The cached row of `mxc://origin/media_id`, fetching it first if needed (and allowed)."""
    cached = stores.cached_remote_media(origin, media_id)
    if cached is not None:
        return cached
    if not allow_remote:
        raise _not_found()
    fetched = fetch(origin, media_id)
    from .handlers import _store_blob, now_ms

    blob = _store_blob([fetched.data])
    return stores.add_remote_media(
        origin=origin, media_id=media_id, user_id="", media_type=fetched.media_type, media_length=blob.length,
        sha256=blob.sha256, upload_name=fetched.upload_name, created_ts=now_ms(), authenticated=True)


def fetch(origin: str, media_id: str) -> Fetched:
    from apps.federation.client import FederationError, request

    path = f"/_matrix/federation/v1/media/download/{quote(media_id, safe='')}"
    try:
        resp = request(origin, "GET", path, query={"timeout_ms": str(REMOTE_TIMEOUT_MS)},
                       timeout=FETCH_TIMEOUT_S)
    except FederationError as e:
        raise _unavailable(origin, str(e)) from None
    if resp.status_code == 200:
        return _from_multipart(origin, resp)
    errcode = _errcode(resp)
    if resp.status_code == 404 and errcode == "M_NOT_FOUND":
        raise _not_found()
    if resp.status_code == 502 and errcode == "M_TOO_LARGE":
        raise _too_large()
    if resp.status_code in (400, 401, 403, 404, 405) or errcode == "M_UNRECOGNIZED":
        # An origin that predates authenticated media (spec v1.11).
        return _fetch_legacy(origin, media_id)
    raise _unavailable(origin, f"HTTP {resp.status_code}")


def _errcode(resp) -> str | None:
    try:
        body = resp.json()
    except ValueError:
        return None
    return body.get("errcode") if isinstance(body, dict) else None


def _check_size(data: bytes) -> None:
    if len(data) > settings.HS.max_upload_size:
        raise _too_large()


def _fetch_legacy(origin: str, media_id: str) -> Fetched:
    from apps.federation.client import FederationError, request

    path = f"/_matrix/media/v3/download/{quote(origin, safe='')}/{quote(media_id, safe='')}"
    try:
        resp = request(origin, "GET", path, signed=False, timeout=FETCH_TIMEOUT_S,
                       query={"allow_remote": "false", "timeout_ms": str(REMOTE_TIMEOUT_MS)})
    except FederationError as e:
        raise _unavailable(origin, str(e)) from None
    if resp.status_code == 404:
        raise _not_found()
    if resp.status_code != 200:
        raise _unavailable(origin, f"legacy download answered HTTP {resp.status_code}")
    _check_size(resp.content)
    return Fetched(resp.content, _media_type(resp.headers.get("Content-Type")),
                   _filename(resp.headers.get("Content-Disposition")))


def _media_type(value: str | None) -> str:
    value = (value or "").strip()
    return value[:255] if value and "/" in value else "application/octet-stream"


def _filename(disposition: str | None) -> str | None:
    if not disposition:
        return None
    msg = email.message.EmailMessage()
    msg["Content-Disposition"] = disposition
    name = msg.get_filename()
    return name[:255] if name else None


def _from_multipart(origin: str, resp) -> Fetched:
    """The second part of a `multipart/mixed` answer: the bytes, or a `Location` to fetch them from."""
    content_type = resp.headers.get("Content-Type", "")
    if not content_type.lower().startswith("multipart/mixed"):
        raise _unavailable(origin, f"download answered {content_type!r}, not multipart/mixed")
    raw = b"Content-Type: " + content_type.encode("latin-1") + b"\r\nMIME-Version: 1.0\r\n\r\n" + resp.content
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    parts = list(message.iter_parts()) if message.is_multipart() else []
    if len(parts) != 2 or parts[0].get_content_type() != "application/json":
        raise _unavailable(origin, "the multipart answer is not a JSON part followed by the media")
    media = parts[1]
    location = media.get("Location")
    if location:
        return _fetch_location(origin, location)
    data = media.get_payload(decode=True) or b""
    _check_size(data)
    return Fetched(data, _media_type(media.get("Content-Type")), _filename(media.get("Content-Disposition")))


def _fetch_location(origin: str, url: str) -> Fetched:
    """Follow the origin's `Location` (through the guarded client: it may point anywhere)."""
    import httpx

    from apps.core import outbound

    if not url.lower().startswith(("https://", "http://")):
        raise _unavailable(origin, "Location is not an http(s) URL")
    limit = settings.HS.max_upload_size
    try:
        with outbound.client().stream("GET", url, timeout=FETCH_TIMEOUT_S, follow_redirects=True) as resp:
            if resp.status_code != 200:
                raise _unavailable(origin, f"Location answered HTTP {resp.status_code}")
            data = bytearray()
            for chunk in resp.iter_bytes():
                data += chunk
                if len(data) > limit:
                    raise _too_large()
            return Fetched(bytes(data), _media_type(resp.headers.get("Content-Type")),
                           _filename(resp.headers.get("Content-Disposition")))
    except httpx.HTTPError as e:
        raise _unavailable(origin, f"Location: {type(e).__name__}") from None
