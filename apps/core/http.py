"""The base of every Matrix endpoint view and the helpers views use to read a request.

A view is a small class named after the spec's `operationId` (`operation_id`), whose `handle()` returns
a JSON-able dict (status 200), a `(dict, status)` pair or an `HttpResponse`. Routing picks the class by
path and method (`hsproject/routing.py`); errors are raised as `MatrixError`.
"""
from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest
from django.http.response import HttpResponseBase

from .errors import Codes, MatrixError


class Endpoint:
    operation_id: str = ""

    def handle(self, request: HttpRequest, **kwargs: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


def json_body(request: HttpRequest, *, required: bool = True) -> dict:
    """The request body as a JSON object, or the spec's M_NOT_JSON / M_BAD_JSON."""
    raw = request.body
    if not raw:
        if required:
            raise MatrixError(Codes.NOT_JSON, "Content not JSON.", 400)
        return {}
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise MatrixError(Codes.NOT_JSON, "Content not JSON.", 400) from None
    if not isinstance(value, dict):
        raise MatrixError(Codes.BAD_JSON, "Content must be a JSON object.", 400)
    return value


def _reject_constant(name: str):
    # NaN and Infinity are not JSON (RFC 8259) and cannot be canonicalised.
    raise ValueError(name)


def field(body: dict, name: str, kind: type | tuple[type, ...], *, required: bool = False,
          default: Any = None) -> Any:
    """One typed field of a JSON body: M_MISSING_PARAM when required and absent, M_BAD_JSON when mistyped."""
    if name not in body or body[name] is None:
        if required:
            raise MatrixError(Codes.MISSING_PARAM, f"Missing parameter: {name}", 400)
        return default
    value = body[name]
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        raise MatrixError(Codes.BAD_JSON, f"Parameter {name} has the wrong type", 400)
    if not isinstance(value, kind):
        raise MatrixError(Codes.BAD_JSON, f"Parameter {name} has the wrong type", 400)
    return value


def query_int(request: HttpRequest, name: str, default: int | None = None, *, minimum: int = 0) -> int | None:
    raw = request.GET.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise MatrixError(Codes.INVALID_PARAM, f"Query parameter {name} must be an integer", 400) from None
    if value < minimum:
        raise MatrixError(Codes.INVALID_PARAM, f"Query parameter {name} must be at least {minimum}", 400)
    return value


def query_bool(request: HttpRequest, name: str, default: bool = False) -> bool:
    raw = request.GET.get(name)
    if raw is None:
        return default
    if raw in ("true", "1"):
        return True
    if raw in ("false", "0"):
        return False
    raise MatrixError(Codes.INVALID_PARAM, f"Query parameter {name} must be true or false", 400)


def empty() -> dict:
    return {}


def as_response(result: Any) -> HttpResponseBase:
    from django.http import JsonResponse

    # HttpResponseBase, not HttpResponse: streaming responses (media downloads) are passed through too.
    if isinstance(result, HttpResponseBase):
        return result
    status = 200
    if isinstance(result, tuple):
        result, status = result
    return JsonResponse(result, status=status, json_dumps_params={"ensure_ascii": False, "separators": (",", ":")})
