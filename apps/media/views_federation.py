"""The federation side of the media repository (server-server API, "Content repository", v1.11):
`GET /_matrix/federation/v1/media/download/{mediaId}` and `/thumbnail/{mediaId}`, for signed requests
of other servers, answered as `multipart/mixed` with exactly two parts: a JSON object of metadata
(always `{}` today) and the media itself with its `Content-Type` and `Content-Disposition`.

Only this server's own media are served; a pending asynchronous upload is awaited up to `timeout_ms`
as on the client side (504 M_NOT_YET_UPLOADED).
"""
from __future__ import annotations

import secrets

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse

from apps.core.http import Endpoint

from . import handlers
from .views import _read_async, _thumbnail_params, _timeout_ms, content_disposition


def _multipart(request, content: handlers.Content, filename: str | None) -> StreamingHttpResponse:
    boundary = secrets.token_hex(16)
    head = (f"--{boundary}\r\nContent-Type: application/json\r\n\r\n{{}}\r\n"
            f"--{boundary}\r\nContent-Type: {content.media_type}\r\n"
            f"Content-Disposition: {content_disposition(content.media_type, filename)}\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    if isinstance(request, ASGIRequest):
        async def body():
            yield head
            async for chunk in _read_async(content.file):
                yield chunk
            yield tail
        stream = body()
    else:
        def body_sync():
            try:
                yield head
                while chunk := content.file.read(64 * 1024):
                    yield chunk
                yield tail
            finally:
                content.file.close()
        stream = body_sync()
    response = StreamingHttpResponse(stream, content_type=f"multipart/mixed; boundary={boundary}")
    response["Content-Length"] = str(len(head) + content.length + len(tail))
    return response


async def _serve(request, media_id: str, respond, check_params=lambda: None):
    from apps.federation.transport_auth import authenticate_request

    def lookup():
        authenticate_request(request)
        check_params()
        return handlers.media_for_serving(settings.HS.server_name, media_id, authenticated=True,
                                          allow_remote=False), _timeout_ms(request)

    media, timeout_ms = await sync_to_async(lookup)()
    if media.is_pending:
        media = await handlers.await_upload(media, timeout_ms)

    def send():
        handlers.mark_accessed(media)
        return respond(media)
    return await sync_to_async(send)()


class FederationGetContent(Endpoint):
    """GET /_matrix/federation/v1/media/download/{mediaId}"""

    operation_id = "getContent"

    async def handle(self, request, media_id, **kwargs):
        return await _serve(request, media_id, lambda media: _multipart(
            request, handlers.content_of(media), media.upload_name))


class FederationGetContentThumbnail(Endpoint):
    """GET /_matrix/federation/v1/media/thumbnail/{mediaId}"""

    operation_id = "getContentThumbnail"

    async def handle(self, request, media_id, **kwargs):
        params: dict = {}
        return await _serve(request, media_id,
                            lambda media: _multipart(request, handlers.thumbnail(media, **params), None),
                            check_params=lambda: params.update(_thumbnail_params(request)))
