"""HTTP middleware for every Matrix endpoint: request ids, CORS, body size limit and error rendering.

Error rendering lives here and only here: views and handlers raise `MatrixError`; anything else that
escapes on a Matrix path is a 500 `M_UNKNOWN`, logged with the request id.

Every middleware here is sync- and async-capable (Django, "Asynchronous support"): under ASGI with only
async-capable middleware, an async view (`/sync`) runs on the event loop and an idle long-poll holds no
thread; one sync-only middleware would make Django run each request's chain in a thread of its own.
"""
from __future__ import annotations

import ipaddress
import logging

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse

from hsproject import instance

from . import raw_paths, request_ids
from .errors import Codes, InteractiveAuthRequired, MatrixError

logger = logging.getLogger("hsproject.request")

# Paths whose errors are rendered as Matrix errors (everything but the Django admin and static files).
MATRIX_PREFIXES = ("/_matrix/", "/_synapse/", "/.well-known/matrix/", "/_hs/", "/health")

# https://spec.matrix.org/latest/client-server-api/#web-browser-clients
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, HEAD, POST, PUT, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "X-Requested-With, Content-Type, Authorization",
    "Access-Control-Expose-Headers": "Retry-After",
}


def is_matrix_path(path: str) -> bool:
    return path.startswith(MATRIX_PREFIXES)


def error_response(err: MatrixError) -> JsonResponse:
    resp = JsonResponse(err.body(), status=err.status)
    for k, v in err.headers.items():
        resp[k] = v
    return resp


class _Middleware:
    """Sync and async capable: `before(request)` may answer at once, `after(request, response)` adjusts
    the response; both are plain functions, so the two modes share them."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self._is_async = iscoroutinefunction(get_response)
        if self._is_async:
            markcoroutinefunction(self)

    def before(self, request: HttpRequest) -> HttpResponse | None:
        return None

    def after(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        return response

    def done(self, request: HttpRequest) -> None:
        """Always runs last (even when the view raised)."""

    def __call__(self, request: HttpRequest):
        if self._is_async:
            return self.__acall__(request)
        try:
            response = self.before(request)
            if response is None:
                response = self.get_response(request)
            return self.after(request, response)
        finally:
            self.done(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        try:
            response = self.before(request)
            if response is None:
                response = await self.get_response(request)
            return self.after(request, response)
        finally:
            self.done(request)


class RequestIdMiddleware(_Middleware):
    def before(self, request: HttpRequest) -> None:
        request.request_id = request_ids.new_request_id(request.method or "-")
        return None

    def after(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        logger.info("%s %s %s %s", instance.name(), request.method, request.path, response.status_code)
        response["X-Request-Id"] = request.request_id
        return response

    def done(self, request: HttpRequest) -> None:
        request_ids.clear()


class ClientAddressMiddleware(_Middleware):
    """Synapse's `x_forwarded` listener option: behind a reverse proxy, the client's address (for rate
    limits, devices' last-seen IP, URL-preview and report records) is what the proxy says, in
    X-Forwarded-For, on a listener marked so; elsewhere the header is ignored, since a client may write it.

    The right-most entry is taken: it is the address the proxy itself saw, while entries to its left come
    from the request as the client sent it. (The ASGI server already trusts the header from loopback
    peers, gunicorn's `--forwarded-allow-ips`, which covers a proxy on the same host.)"""

    def before(self, request: HttpRequest) -> None:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
        if not forwarded:
            return None
        try:
            listener = instance.listener_on(int(request.META.get("SERVER_PORT") or 0))
        except ValueError:
            return None
        if listener is None or not listener.x_forwarded:
            return None
        candidate = forwarded.rsplit(",", 1)[-1].strip()
        try:
            request.META["REMOTE_ADDR"] = str(ipaddress.ip_address(candidate))
        except ValueError:
            pass  # not an address: keep the peer's
        return None


class EncodedSlashMiddleware(_Middleware):
    """Keeps `%2F` inside its path segment for URL matching (see `raw_paths`)."""

    def before(self, request: HttpRequest) -> HttpResponse | None:
        if is_matrix_path(request.path):
            raw = raw_paths.raw_path(request)
            rebuilt = raw_paths.path_with_encoded_slashes(raw) if raw else None
            if rebuilt is not None:
                request.path_info = rebuilt
        return None


class CorsMiddleware(_Middleware):
    def before(self, request: HttpRequest) -> HttpResponse | None:
        if is_matrix_path(request.path) and request.method == "OPTIONS":
            # Pre-flight: answer at once, whatever the path, without authentication.
            return JsonResponse({})
        return None

    def after(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if is_matrix_path(request.path):
            for k, v in CORS_HEADERS.items():
                response[k] = v
        return response


class BodySizeLimitMiddleware(_Middleware):
    """Refuses a declared body over the limit before reading it; Django's own limit covers the rest."""

    def __init__(self, get_response):
        from django.conf import settings

        super().__init__(get_response)
        self.limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    def before(self, request: HttpRequest) -> HttpResponse | None:
        length = request.META.get("CONTENT_LENGTH")
        if length and is_matrix_path(request.path) and not request.path.startswith("/_matrix/media/"):
            try:
                too_big = int(length) > self.limit
            except ValueError:
                return error_response(MatrixError(Codes.BAD_JSON, "Invalid Content-Length", 400))
            if too_big:
                return error_response(MatrixError(Codes.TOO_LARGE, f"Request body is larger than {self.limit} bytes", 413))
        return None


class MatrixErrorMiddleware(_Middleware):
    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not is_matrix_path(request.path):
            return None
        if isinstance(exc, MatrixError):
            return error_response(exc)
        if isinstance(exc, InteractiveAuthRequired):
            return JsonResponse(exc.body, status=401)
        if isinstance(exc, RequestDataTooBig):
            return error_response(MatrixError(Codes.TOO_LARGE, "Request body is too large", 413))
        logger.exception("Unhandled error on %s %s", request.method, request.path)
        return error_response(MatrixError(Codes.UNKNOWN, "Internal server error", 500))
