"""Views of the media repository, one per spec operationId.

Uploads are read from the request stream in chunks (never `request.body`, which Django bounds by
`DATA_UPLOAD_MAX_MEMORY_SIZE`), so files up to `max_upload_size` are accepted without being held in
memory. Content is served with the spec's safety headers (`serving_headers`).
"""
from __future__ import annotations

import re
from typing import Callable, Iterator
from urllib.parse import quote

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import FileResponse, HttpRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase

from apps.accounts.auth import authenticate
from apps.core.errors import Codes, MatrixError
from apps.core.http import Endpoint, query_bool, query_int

from . import handlers, previews
from .models import Media

CHUNK_SIZE = 64 * 1024
DEFAULT_TIMEOUT_MS = 20_000  # spec: timeout_ms defaults to 20 s (capped by handlers.MAX_PENDING_WAIT_MS)

# spec: content_repo.md "Serving inline content": the only types served with `Content-Disposition: inline`.
INLINE_CONTENT_TYPES = frozenset({
    "text/css", "text/plain", "text/csv", "application/json", "application/ld+json",
    "image/jpeg", "image/gif", "image/png", "image/apng", "image/webp", "image/avif",
    "video/mp4", "video/webm", "video/ogg", "video/quicktime",
    "audio/mp4", "audio/webm", "audio/aac", "audio/mpeg", "audio/ogg", "audio/wave", "audio/wav",
    "audio/x-wav", "audio/x-pn-wav", "audio/flac", "audio/x-flac",
})
# spec: content_repo.md (recommended policy), plus Synapse's `media-src 'self'`.
CONTENT_SECURITY_POLICY = ("sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; "
                           "style-src 'unsafe-inline'; media-src 'self'; object-src 'self';")
# RFC 9110 token characters: a filename made of these needs no quoting.
_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# A Content-Type we will echo back as a header: printable ASCII only.
_CONTENT_TYPE_RE = re.compile(r"[\x21-\x7e][\x20-\x7e]{0,254}")


# --- request helpers ---------------------------------------------------------------------------------

def _chunks(request: HttpRequest) -> Iterator[bytes]:
    while True:
        chunk = request.read(CHUNK_SIZE)
        if not chunk:
            return
        yield chunk


def _declared_length(request: HttpRequest) -> int | None:
    raw = request.META.get("CONTENT_LENGTH")
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise MatrixError(Codes.INVALID_PARAM, "Invalid Content-Length", 400) from None


def _content_type(request: HttpRequest) -> str:
    value = (request.META.get("CONTENT_TYPE") or "").strip()
    if not value:
        return "application/octet-stream"  # spec: uploadContent, Content-Type default
    if not _CONTENT_TYPE_RE.fullmatch(value):
        raise MatrixError(Codes.INVALID_PARAM, "Invalid Content-Type", 400)
    return value


def _upload_name(request: HttpRequest) -> str | None:
    name = request.GET.get("filename")
    if not name:
        return None
    if len(name) > 255 or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise MatrixError(Codes.INVALID_PARAM, "Invalid filename", 400)
    return name


def _timeout_ms(request: HttpRequest) -> int:
    return query_int(request, "timeout_ms", DEFAULT_TIMEOUT_MS)


# --- response helpers --------------------------------------------------------------------------------

def content_disposition(content_type: str, filename: str | None) -> str:
    kind = "inline" if content_type.split(";", 1)[0].strip().lower() in INLINE_CONTENT_TYPES else "attachment"
    if not filename:
        return kind
    if _TOKEN_RE.fullmatch(filename):
        return f"{kind}; filename={filename}"
    return f"{kind}; filename*=utf-8''{quote(filename, safe='')}"  # RFC 5987 / 6266


def serving_headers(response: HttpResponseBase, content_type: str, filename: str | None, *, authenticated: bool) -> None:
    response["Content-Disposition"] = content_disposition(content_type, filename)
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response["X-Content-Type-Options"] = "nosniff"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    # Media never change; authenticated ones must not be kept by shared caches.
    response["Cache-Control"] = ("private, max-age=86400" if authenticated
                                 else "public, max-age=86400, s-maxage=86400")


async def _read_async(file, block_size: int = CHUNK_SIZE):
    try:
        while chunk := await sync_to_async(file.read, thread_sensitive=False)(block_size):
            yield chunk
    finally:
        file.close()


def _file_response(request: HttpRequest, content: handlers.Content, filename: str | None, *,
                   authenticated: bool) -> HttpResponseBase:
    if isinstance(request, ASGIRequest):
        # Under ASGI a synchronous iterator would be read whole into memory before sending (Django
        # consumes it with sync_to_async(list)); stream the file in chunks instead.
        response = StreamingHttpResponse(_read_async(content.file), content_type=content.media_type)
    else:
        response = FileResponse(content.file, content_type=content.media_type)
    response["Content-Length"] = str(content.length)
    serving_headers(response, content.media_type, filename, authenticated=authenticated)
    return response


async def _serve(request: HttpRequest, server_name: str, media_id: str, *, authenticated: bool,
                 respond: Callable[[Media], HttpResponseBase], check_params: Callable[[], None]) -> HttpResponseBase:
    """Shared by downloads and thumbnails: authenticate, check, find the media, wait for a pending upload
    (async, so a waiting request holds no thread), then `respond` in a thread (file and image work)."""
    def lookup() -> tuple[Media, int]:
        if authenticated:
            authenticate(request, allow_guest=True)
        check_params()
        timeout_ms = _timeout_ms(request)
        allow_remote = authenticated or query_bool(request, "allow_remote", True)
        return handlers.media_for_serving(server_name, media_id, authenticated=authenticated,
                                          allow_remote=allow_remote), timeout_ms

    media, timeout_ms = await sync_to_async(lookup)()
    if media.is_pending:
        media = await handlers.await_upload(media, timeout_ms)

    def send() -> HttpResponseBase:
        handlers.mark_accessed(media)
        return respond(media)

    return await sync_to_async(send)()


async def _download(request: HttpRequest, server_name: str, media_id: str, file_name: str | None, *,
                    authenticated: bool) -> HttpResponseBase:
    def check_params() -> None:
        if not authenticated:
            query_bool(request, "allow_remote", True)

    def respond(media: Media) -> HttpResponseBase:
        return _file_response(request, handlers.content_of(media), file_name or media.upload_name,
                              authenticated=authenticated)

    return await _serve(request, server_name, media_id, authenticated=authenticated, respond=respond,
                        check_params=check_params)


def _thumbnail_params(request: HttpRequest) -> dict:
    width = query_int(request, "width", minimum=1)
    height = query_int(request, "height", minimum=1)
    if width is None or height is None:
        raise MatrixError(Codes.MISSING_PARAM, "width and height are required", 400)
    method = request.GET.get("method", "scale")
    if method not in ("crop", "scale"):
        raise MatrixError(Codes.INVALID_PARAM, "method must be crop or scale", 400)
    return {"width": width, "height": height, "method": method, "animated": query_bool(request, "animated", False)}


async def _thumbnail(request: HttpRequest, server_name: str, media_id: str, *,
                     authenticated: bool) -> HttpResponseBase:
    params = {}

    def check_params() -> None:
        params.update(_thumbnail_params(request))

    def respond(media: Media) -> HttpResponseBase:
        return _file_response(request, handlers.thumbnail(media, **params), None, authenticated=authenticated)

    return await _serve(request, server_name, media_id, authenticated=authenticated, respond=respond,
                        check_params=check_params)


def _config(request: HttpRequest) -> dict:
    authenticate(request, allow_guest=True)
    return {"m.upload.size": settings.HS.max_upload_size}


async def _url_preview(request: HttpRequest) -> dict:
    """Both preview endpoints (the deprecated one needs an access token too). Off: 404 M_UNRECOGNIZED,
    before authentication, as if unrouted. The fetch runs outside Django's one thread for synchronous
    work, so a slow site holds up no other request."""
    def start() -> tuple[str, str, dict | None]:
        previews.check_enabled()
        requester = authenticate(request)
        url = request.GET.get("url")
        if not url:
            raise MatrixError(Codes.MISSING_PARAM, "Missing url parameter", 400)
        ts = query_int(request, "ts")
        return requester.user_id, previews.check_url(url), previews.cached(url, ts)

    user_id, url, og = await sync_to_async(start)()
    if og is not None:
        return og
    built = await sync_to_async(previews.build, thread_sensitive=False)(url)
    return await sync_to_async(previews.save)(url, built, user_id)


# --- uploads -----------------------------------------------------------------------------------------

class UploadContent(Endpoint):
    """# POST /_matrix/media/v3/upload"""

    operation_id = "uploadContent"

    def handle(self, request: HttpRequest, **kwargs) -> dict:
        requester = authenticate(request)
        handlers.check_declared_length(_declared_length(request))
        media = handlers.upload(requester.user_id, _chunks(request), content_type=_content_type(request),
                                upload_name=_upload_name(request))
        return {"content_uri": media.mxc_uri}


class CreateContent(Endpoint):
    """# POST /_matrix/media/v1/create"""

    operation_id = "createContent"

    def handle(self, request: HttpRequest, **kwargs) -> dict:
        requester = authenticate(request)
        media = handlers.create_pending(requester.user_id)
        return {"content_uri": media.mxc_uri, "unused_expires_at": media.unused_expires_at}


class UploadContentToMXC(Endpoint):
    """# PUT /_matrix/media/v3/upload/{serverName}/{mediaId}"""

    operation_id = "uploadContentToMXC"

    def handle(self, request: HttpRequest, server_name: str, media_id: str, **kwargs) -> dict:
        requester = authenticate(request)
        content_type, upload_name = _content_type(request), _upload_name(request)
        media = handlers.check_pending_upload(requester.user_id, server_name, media_id)
        handlers.check_declared_length(_declared_length(request))
        handlers.upload_pending(media, _chunks(request), content_type=content_type, upload_name=upload_name)
        return {}


# --- authenticated media (spec v1.11) ----------------------------------------------------------------

class GetContentAuthed(Endpoint):
    """# GET /_matrix/client/v1/media/download/{serverName}/{mediaId}"""

    operation_id = "getContentAuthed"

    async def handle(self, request: HttpRequest, server_name: str, media_id: str, **kwargs) -> HttpResponseBase:
        return await _download(request, server_name, media_id, None, authenticated=True)


class GetContentOverrideNameAuthed(Endpoint):
    """# GET /_matrix/client/v1/media/download/{serverName}/{mediaId}/{fileName}"""

    operation_id = "getContentOverrideNameAuthed"

    async def handle(self, request: HttpRequest, server_name: str, media_id: str, file_name: str,
                     **kwargs) -> HttpResponseBase:
        return await _download(request, server_name, media_id, file_name, authenticated=True)


class GetContentThumbnailAuthed(Endpoint):
    """# GET /_matrix/client/v1/media/thumbnail/{serverName}/{mediaId}"""

    operation_id = "getContentThumbnailAuthed"

    async def handle(self, request: HttpRequest, server_name: str, media_id: str, **kwargs) -> HttpResponseBase:
        return await _thumbnail(request, server_name, media_id, authenticated=True)


class GetUrlPreviewAuthed(Endpoint):
    """# GET /_matrix/client/v1/media/preview_url"""

    operation_id = "getUrlPreviewAuthed"

    async def handle(self, request: HttpRequest, **kwargs) -> dict:
        return await _url_preview(request)


class GetConfigAuthed(Endpoint):
    """# GET /_matrix/client/v1/media/config"""

    operation_id = "getConfigAuthed"

    def handle(self, request: HttpRequest, **kwargs) -> dict:
        return _config(request)


# --- deprecated unauthenticated endpoints (frozen for media uploaded with enable_authenticated_media) --

class GetContent(Endpoint):
    """# GET /_matrix/media/v3/download/{serverName}/{mediaId}"""

    operation_id = "getContent"

    async def handle(self, request: HttpRequest, server_name: str, media_id: str, **kwargs) -> HttpResponseBase:
        return await _download(request, server_name, media_id, None, authenticated=False)


class GetContentOverrideName(Endpoint):
    """# GET /_matrix/media/v3/download/{serverName}/{mediaId}/{fileName}"""

    operation_id = "getContentOverrideName"

    async def handle(self, request: HttpRequest, server_name: str, media_id: str, file_name: str,
                     **kwargs) -> HttpResponseBase:
        return await _download(request, server_name, media_id, file_name, authenticated=False)


class GetContentThumbnail(Endpoint):
    """# GET /_matrix/media/v3/thumbnail/{serverName}/{mediaId}"""

    operation_id = "getContentThumbnail"

    async def handle(self, request: HttpRequest, server_name: str, media_id: str, **kwargs) -> HttpResponseBase:
        return await _thumbnail(request, server_name, media_id, authenticated=False)


class GetUrlPreview(Endpoint):
    """# GET /_matrix/media/v3/preview_url"""

    operation_id = "getUrlPreview"

    async def handle(self, request: HttpRequest, **kwargs) -> dict:
        return await _url_preview(request)


class GetConfig(Endpoint):
    """# GET /_matrix/media/v3/config (the spec requires an access token here too)"""

    operation_id = "getConfig"

    def handle(self, request: HttpRequest, **kwargs) -> dict:
        return _config(request)
