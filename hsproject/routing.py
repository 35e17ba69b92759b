"""The one routing table: every endpoint row, collected from `apps/*/routes.py`.

A row is one path pattern (the seeds' regexes, version groups made non-capturing) with one view per
HTTP method, plus the facts a multi-process deployment needs: which kind of process serves it
(`serves`), which stream it writes (`writes`), the shard key of that stream and the proxy's balance key.
Django's URLconf is built from it here; the reverse-proxy config and write forwarding read the same rows.
An endpoint whose `handle` is `async def` makes its row an async Django view (`/sync` long-polls).
"""
from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, re_path
from django.views.decorators.csrf import csrf_exempt

from apps.core.errors import unrecognized
from apps.core.raw_paths import restore
from apps.core.http import Endpoint, as_response

HTTP_METHODS = ("GET", "PUT", "POST", "DELETE", "PATCH")
SERVES = ("client", "sync", "federation", "keys", "media", "admin", "replication", "health", "discovery",
          "metrics")
BALANCE = ("none", "user", "room", "ip", "origin")

# The version alternatives of the seeds' regexes, non-capturing so that only named groups reach views.
CLIENT_ALL = "(?:api/v1|r0|v3|unstable)"
CLIENT_R0 = "(?:r0|v3|unstable)"


@dataclass
class Route:
    pattern: str
    methods: dict[str, type[Endpoint]] = field(default_factory=dict)
    serves: str = "client"
    writes: str | None = None
    shard_key: str | None = None
    balance: str = "none"

    def __init__(self, pattern: str, *, serves: str = "client", writes: str | None = None,
                 shard_key: str | None = None, balance: str = "none", **methods: type[Endpoint]):
        if not pattern.startswith("^/") or not pattern.endswith("$"):
            raise ValueError(f"route pattern must be anchored ^/...$: {pattern}")
        if serves not in SERVES:
            raise ValueError(f"unknown serves={serves!r} for {pattern}")
        if balance not in BALANCE:
            raise ValueError(f"unknown balance={balance!r} for {pattern}")
        for m in methods:
            if m not in HTTP_METHODS:
                raise ValueError(f"unknown HTTP method {m} for {pattern}")
        self.pattern = pattern
        self.methods = dict(methods)
        self.serves = serves
        self.writes = writes
        self.shard_key = shard_key
        self.balance = balance
        self.regex = re.compile(pattern)

    def operation_ids(self) -> dict[str, str]:
        return {m: v.operation_id for m, v in self.methods.items()}

    def is_async(self) -> bool:
        """Whether a method's endpoint declares `async def handle` (then the row is an async Django view)."""
        return any(inspect.iscoroutinefunction(v.handle) for v in self.methods.values())

    def view(self):
        methods = self.methods
        path_pattern = self.pattern
        # A row writing a stream other than `events` (sharded per room, forwarded per event) is served by
        # that stream's writer: its writes are relayed there from any other process (apps.streams.relay).
        relayed_stream = self.writes if self.writes and self.writes != "events" else None

        media = self.serves == "media"

        def endpoint_for(request: HttpRequest) -> type[Endpoint]:
            if media and not serves_media():
                # enable_media_repo: false on a process that is not a media worker (Synapse's meaning).
                raise unrecognized(request.method or "GET", request.path)
            method = request.method or "GET"
            view_cls = methods.get(method) or (methods.get("GET") if method == "HEAD" else None)
            if view_cls is None:
                raise unrecognized(method, request.path, wrong_method=True)
            return view_cls

        if self.is_async():
            @csrf_exempt
            async def dispatch(request: HttpRequest, **kwargs: Any) -> HttpResponse:
                kwargs = {k: restore(v) for k, v in kwargs.items()}
                handle = endpoint_for(request)().handle
                if inspect.iscoroutinefunction(handle):
                    return as_response(await handle(request, **kwargs))
                # A synchronous method on the same row: in a thread, as Django runs sync views.
                return as_response(await sync_to_async(handle)(request, **kwargs))
        else:
            @csrf_exempt
            def dispatch(request: HttpRequest, **kwargs: Any) -> HttpResponse:
                kwargs = {k: restore(v) for k, v in kwargs.items()}
                handle = endpoint_for(request)().handle
                if relayed_stream is not None and request.method not in ("GET", "HEAD"):
                    from apps.streams import relay

                    if relay.is_relayed(request):
                        return relay.handle_relayed(request, lambda: as_response(handle(request, **kwargs)))
                    from hsproject import instance

                    if not instance.writes(relayed_stream):
                        return relay.relay(request, relayed_stream, instance.writers_of(relayed_stream)[0])
                return as_response(handle(request, **kwargs))

        dispatch.__name__ = f"route_{'_'.join(v.__name__ for v in methods.values())}"
        dispatch.route_pattern = path_pattern
        return dispatch


def serves_media() -> bool:
    """Whether this process serves the media repository: a media worker always; any other process
    unless `enable_media_repo` is false."""
    from django.conf import settings

    topo = settings.HS.workers
    return topo.worker_app == "synapse.app.media_repository" or topo.enable_media_repo


ROUTE_MODULES = (
    "apps.discovery.routes",
    "apps.accounts.routes",
    "apps.federation.routes",
    "apps.rooms.routes",
    "apps.sync.routes",
    "apps.admin_api.routes",
    "apps.media.routes",
)


def route_modules() -> tuple[str, ...]:
    """The fixed modules above, then the `routes.py` of every other installed app under `apps/`."""
    from django.apps import apps as django_apps

    extra = sorted(f"{cfg.name}.routes" for cfg in django_apps.get_app_configs()
                   if cfg.name.startswith("apps.") and f"{cfg.name}.routes" not in ROUTE_MODULES
                   and (Path(cfg.path) / "routes.py").is_file())
    return ROUTE_MODULES + tuple(extra)


@lru_cache(maxsize=1)
def all_routes() -> tuple[Route, ...]:
    rows: list[Route] = []
    seen: dict[str, str] = {}
    for modname in route_modules():
        for route in importlib.import_module(modname).ROUTES:
            if route.pattern in seen:
                raise ValueError(f"route {route.pattern} declared twice ({seen[route.pattern]}, {modname})")
            seen[route.pattern] = modname
            rows.append(route)
    return tuple(rows)


def routed_operation_ids() -> set[str]:
    return {op for r in all_routes() for op in r.operation_ids().values() if op}


def match(path: str, method: str) -> tuple[Route, type[Endpoint] | None] | None:
    """The row serving `path`, and its view for `method` (None if the method is not served)."""
    for r in all_routes():
        if r.regex.match(path):
            return r, r.methods.get(method)
    return None


def _unrecognized_view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    raise unrecognized(request.method or "GET", request.path)


def django_urlpatterns(extra: Iterable[URLPattern] = ()) -> list[URLPattern]:
    patterns = [re_path("^" + r.pattern[2:], r.view()) for r in all_routes()]
    patterns.extend(extra)
    # Everything else under the Matrix prefixes is M_UNRECOGNIZED, never Django's HTML 404.
    for prefix in (r"^_matrix/", r"^_synapse/", r"^\.well-known/matrix/", r"^_hs/"):
        patterns.append(re_path(prefix, csrf_exempt(_unrecognized_view)))
    return patterns
