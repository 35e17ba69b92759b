"""Which requests `apps.sync.asgi` serves with the shared thread-sensitive executors: exactly those whose
endpoint for the method is a coroutine (long-polls), never a synchronous view (which runs entirely in its
thread-sensitive thread and must keep one of its own). The effect on a real server process is checked
by tests/services/test_idle_long_polls.py."""
from __future__ import annotations

import asyncio
import threading

import pytest
from asgiref.sync import SyncToAsync, sync_to_async

from apps.sync.asgi import AsyncRoutesShareThreads


@pytest.fixture
def wrapper():
    return AsyncRoutesShareThreads(app=None)


@pytest.mark.parametrize("method, path, shared", [
    ("GET", "/_matrix/client/v3/sync", True),
    ("GET", "/_matrix/client/r0/sync", True),
    ("HEAD", "/_matrix/client/v3/sync", True),
    ("GET", "/_matrix/client/v3/events", True),
    ("GET", "/_matrix/client/api/v1/events", True),
    ("POST", "/_matrix/client/v3/sync", False),
    ("GET", "/_matrix/client/v3/initialSync", False),
    ("GET", "/_matrix/client/v3/events/$abc", False),
    ("PUT", "/_matrix/client/v3/rooms/!r:x/send/m.room.message/t1", False),
    ("GET", "/_matrix/client/versions", False),
    ("GET", "/nowhere", False),
])
def test_only_async_endpoints_share_threads(wrapper, method, path, shared):
    assert wrapper.serves_async(path, method) is shared


def test_requests_reach_the_application_either_way(wrapper):
    seen = []

    async def app(scope, receive, send):
        ctx = SyncToAsync.thread_sensitive_context.get(None)
        name = await sync_to_async(lambda: threading.current_thread().name)()
        seen.append((scope["path"], ctx is not None, name))

    wrapper.app = app
    for path in ("/_matrix/client/v3/sync", "/_matrix/client/v3/initialSync"):
        asyncio.run(wrapper({"type": "http", "path": path, "method": "GET"}, None, None))
    (_, sync_ctx, sync_thread), (_, other_ctx, _) = seen
    assert sync_ctx and sync_thread.startswith("hs-async-views-")
    assert not other_ctx  # left to Django's handler, which enters its own per-request context
