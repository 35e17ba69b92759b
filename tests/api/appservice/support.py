"""A real application service for the tests: an aiohttp server on 127.0.0.1 (a free port) in a thread.

It records every request (method, path, Authorization header, JSON body), answers transactions and pings
as a service would, and can be made to fail (`status`), to hang (`delay`) or to go away (`stop()`; `start()`
brings it back on the same port). `on_query_user` / `on_query_alias` run (in a worker thread, with
database access) when the homeserver queries an unknown user or alias.
"""
from __future__ import annotations

import asyncio
import json
import socket
import threading
from dataclasses import dataclass, field
from typing import Callable

import yaml
from aiohttp import web


@dataclass
class Seen:
    method: str
    path: str
    authorization: str | None
    body: dict | None
    answered: int = 0
    query: dict = field(default_factory=dict)


@dataclass
class FakeAppService:
    hs_token: str = "hs-token-for-tests"
    status: int = 200
    delay: float = 0.0
    requests: list[Seen] = field(default_factory=list)
    on_query_user: Callable[[str], bool] | None = None
    on_query_alias: Callable[[str], bool] | None = None
    # Third-party lookups: path (without the query) -> the JSON to answer with (404 when absent).
    thirdparty: dict = field(default_factory=dict)
    port: int = 0

    def __post_init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        if not self.port:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.port = s.getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- what it saw ---------------------------------------------------------------------------------------
    def transactions(self) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith("/_matrix/app/v1/transactions/")]

    def acknowledged_events(self) -> list[dict]:
        """Events of the transactions this service answered 200, each transaction id counted once."""
        seen_ids: set[str] = set()
        out = []
        with self._lock:
            for r in self.requests:
                if r.path.startswith("/_matrix/app/v1/transactions/") and r.answered == 200:
                    txn = r.path.rsplit("/", 1)[1]
                    if txn in seen_ids:
                        continue
                    seen_ids.add(txn)
                    out.extend(r.body["events"])
        return out

    # -- the server ------------------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        body = json.loads(raw) if raw else None
        seen = Seen(request.method, request.path, request.headers.get("Authorization"), body,
                    query=dict(request.query))
        with self._lock:
            self.requests.append(seen)
        if self.delay:
            await asyncio.sleep(self.delay)
        if request.headers.get("Authorization") != f"Bearer {self.hs_token}":
            seen.answered = 403
            return web.json_response({"errcode": "M_FORBIDDEN"}, status=403)
        if self.status != 200:
            seen.answered = self.status
            return web.Response(status=self.status, text='{"errcode": "M_UNKNOWN", "error": "down for a bit"}')
        path = request.path
        if path.startswith("/_matrix/app/v1/users/") and self.on_query_user is not None:
            user_id = request.path.rsplit("/", 1)[1]
            ok = await asyncio.to_thread(_with_db, self.on_query_user, user_id)
            seen.answered = 200 if ok else 404
            return web.json_response({} if ok else {"errcode": "M_NOT_FOUND"}, status=seen.answered)
        if path.startswith("/_matrix/app/v1/rooms/") and self.on_query_alias is not None:
            alias = request.path.rsplit("/", 1)[1]
            ok = await asyncio.to_thread(_with_db, self.on_query_alias, alias)
            seen.answered = 200 if ok else 404
            return web.json_response({} if ok else {"errcode": "M_NOT_FOUND"}, status=seen.answered)
        if path in self.thirdparty:
            seen.answered = 200
            return web.json_response(self.thirdparty[path])
        if path.startswith("/_matrix/app/v1/transactions/") or path == "/_matrix/app/v1/ping":
            seen.answered = 200
            return web.json_response({})
        seen.answered = 404
        return web.json_response({"errcode": "M_UNRECOGNIZED"}, status=404)

    def start(self) -> "FakeAppService":
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = web.Application()
            app.router.add_route("*", "/{rest:.*}", self._handle)
            self._runner = web.AppRunner(app, handle_signals=False)
            loop.run_until_complete(self._runner.setup())
            loop.run_until_complete(web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True).start())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        assert ready.wait(10), "fake application service did not start"
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = None


def _with_db(fn, arg):
    from django.db import connection

    try:
        return fn(_unquote(arg))
    finally:
        connection.close()


def _unquote(value: str) -> str:
    from urllib.parse import unquote

    return unquote(value)


def registration(fake: FakeAppService | None, *, id: str = "bridge", as_token: str = "as-token-for-tests",
                 sender_localpart: str = "_bridge_bot", users=None, aliases=None, rooms=None,
                 url: str | None = "fake", **extra) -> dict:
    reg = {
        "id": id,
        "url": (fake.url if fake is not None else None) if url == "fake" else url,
        "as_token": as_token,
        "hs_token": fake.hs_token if fake is not None else f"hs-{id}",
        "sender_localpart": sender_localpart,
        "namespaces": {
            "users": users if users is not None else [{"exclusive": True, "regex": "@_bridge_.*"}],
            "aliases": aliases if aliases is not None else [{"exclusive": True, "regex": "#_bridge_.*"}],
            "rooms": rooms or [],
        },
        **extra,
    }
    return reg


def configure(settings, tmp_path, *regs: dict) -> None:
    """Write the registrations to files and load them as the server does at start-up."""
    from hsproject.config.appservices import load_registrations

    paths = []
    for i, reg in enumerate(regs):
        p = tmp_path / f"registration-{i}.yaml"
        p.write_text(yaml.safe_dump(reg))
        paths.append(str(p))
    settings.HS = settings.HS.replace(app_service_config_files=tuple(paths),
                                      app_services=load_registrations(paths))
