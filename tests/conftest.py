"""Shared fixtures: a JSON client speaking the Matrix API through Django's test client, and helpers to
register users. Both tiers run these same tests (HS_TEST_TIER=fast|services)."""
from __future__ import annotations

import json
import os
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

TIER = os.environ.get("HS_TEST_TIER", "fast")


def pytest_report_header(config):
    return f"hsproject test tier: {TIER}"


class MatrixClient:
    """A client as a Matrix client library would be: JSON bodies, bearer tokens, parsed responses."""

    def __init__(self):
        self.http = Client()
        self.token: str | None = None
        self.user_id: str | None = None
        self.device_id: str | None = None

    def request(self, method: str, path: str, body: Any = None, *, token: str | None = "default",
                raw: bytes | None = None, content_type: str = "application/json", headers: dict | None = None):
        if token == "default":
            token = self.token
        extra = {}
        if token:
            extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        for k, v in (headers or {}).items():
            extra["HTTP_" + k.upper().replace("-", "_")] = v
        data = raw if raw is not None else (json.dumps(body) if body is not None else "")
        resp = self.http.generic(method, path, data=data, content_type=content_type, **extra)
        try:
            resp.json_body = json.loads(resp.content) if resp.content else None
        except ValueError:
            resp.json_body = None
        return resp

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body if body is not None else {}, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body if body is not None else {}, **kw)

    def delete(self, path, body=None, **kw):
        return self.request("DELETE", path, body, **kw)

    def register(self, localpart: str, password: str = "correct horse battery", **extra) -> dict:
        body = {"username": localpart, "password": password, "auth": {"type": "m.login.dummy"}, **extra}
        resp = self.post("/_matrix/client/v3/register", body, token=None)
        assert resp.status_code == 200, resp.json_body
        data = resp.json_body
        if "access_token" in data:
            self.token, self.user_id, self.device_id = data["access_token"], data["user_id"], data["device_id"]
        return data


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    """pytest-django's, plus: the process's ReplicationState (started by the first event persisted) holds
    a database connection in its Redis subscriber thread: stop it before the test database is dropped."""
    yield
    from apps.streams import replication
    state = replication.set_state_for_tests(None)
    if state is not None:
        state.stop()
    from apps.sync.handlers import close_pool_connections
    close_pool_connections()  # /sync's database work runs in pool threads


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _stop_writer_loops():
    """A /sync or typing request starts the typing and presence writers' loops (threads with their own
    database connection): stopped after each test, so none writes while the next test runs."""
    yield
    from apps.presence.loop import loop as presence_loop
    from apps.typing.timeouts import loop as typing_loop

    for lp in (typing_loop(), presence_loop()):
        if lp.running:
            lp.stop()
    from workers import local_beat

    if local_beat._beat is not None:  # a test that served through hsproject.asgi started it
        local_beat._beat.stop()
        local_beat._beat = None


@pytest.fixture
def client_factory(db):
    return MatrixClient


@pytest.fixture
def mx(db) -> MatrixClient:
    return MatrixClient()


@pytest.fixture
def alice(db) -> MatrixClient:
    c = MatrixClient()
    c.register("alice")
    return c


@pytest.fixture
def bob(db) -> MatrixClient:
    c = MatrixClient()
    c.register("bob")
    return c


def assert_error(resp, status: int, errcode: str) -> dict:
    assert resp.status_code == status, (resp.status_code, resp.content[:500])
    assert resp.json_body is not None and resp.json_body.get("errcode") == errcode, resp.json_body
    assert isinstance(resp.json_body.get("error"), str)
    return resp.json_body


@pytest.fixture(scope="session", autouse=True)
def _flush_postgresql_by_delete():
    """Transactional tests empty every table after each test. Django does it on PostgreSQL with one
    TRUNCATE of all tables, which gives each table and index new files, disk work for tables that are
    almost all empty; DELETE of every table in one transaction is instant for an empty table, and Django's
    foreign keys are DEFERRABLE INITIALLY DEFERRED, so the order does not matter."""
    from django.db import connection

    if connection.vendor != "postgresql":
        yield
        return
    ops_class = type(connection.ops)
    truncate = ops_class.sql_flush

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if reset_sequences or not tables:
            return truncate(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        return [f"DELETE FROM {self.quote_name(table)};" for table in tables]

    ops_class.sql_flush = sql_flush
    yield
    ops_class.sql_flush = truncate
