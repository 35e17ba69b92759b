"""ASGI wrapper that keeps idle long-polls from each holding a thread.

Django's ASGI handler enters a `ThreadSensitiveContext` per request: the first thread-sensitive call of
the request (the `request_started` signal's sync receivers `close_old_connections` and `reset_queries`,
the `MiddlewareMixin` middlewares' hooks, `response.close()`) starts a thread of its own for that request,
and the thread lives until the request ends. For an async view that waits (a `/sync` or `/events`
long-poll, a media download waiting for an upload) that is one parked thread per waiting client: 200
idle long-polls made a uvicorn worker run 200+ threads.

Requests served by an async endpoint (a routing-table row whose view for the method is a coroutine)
enter a context backed by one of a few shared single-thread executors instead, so their brief
thread-sensitive calls run on a fixed small set of threads and nothing is held while they wait. Their
database work runs in the loop's shared pool anyway (`handlers.db_call`). Requests to synchronous views
keep Django's thread per request: their whole view runs there.
"""
from __future__ import annotations

import inspect
import itertools
import threading
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext

# `ThreadSensitiveContext(executor=...)` is recent in asgiref; without it, Django's own behaviour.
_EXECUTOR_CONTEXTS = "executor" in inspect.signature(ThreadSensitiveContext.__init__).parameters

# Thread-sensitive work of async endpoints is short (signal receivers, middleware hooks); a few threads
# keep one slow call from delaying every other request's.
SHARED_THREADS = 4


class AsyncRoutesShareThreads:
    def __init__(self, app, threads: int = SHARED_THREADS):
        self.app = app
        self._executors = [ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"hs-async-views-{i}")
                           for i in range(threads)]
        self._next = itertools.cycle(self._executors)
        self._next_lock = threading.Lock()
        self._async_rows: list | None = None

    def _async_rows_table(self) -> list:
        if self._async_rows is None:
            from hsproject import routing

            self._async_rows = [(r.regex, {m for m, v in r.methods.items() if inspect.iscoroutinefunction(v.handle)})
                                for r in routing.all_routes() if r.is_async()]
        return self._async_rows

    def serves_async(self, path: str, method: str) -> bool:
        """Whether `method path` is served by an async endpoint (HEAD is served by GET)."""
        method = "GET" if method == "HEAD" else method
        for regex, methods in self._async_rows_table():
            if regex.match(path):
                return method in methods
        return False

    async def __call__(self, scope, receive, send):
        if _EXECUTOR_CONTEXTS and scope.get("type") == "http" \
                and self.serves_async(scope.get("path", ""), scope.get("method", "GET")):
            with self._next_lock:
                executor = next(self._next)
            async with ThreadSensitiveContext(executor=executor):
                return await self.app(scope, receive, send)
        return await self.app(scope, receive, send)


def share_threads_for_async_routes(app) -> AsyncRoutesShareThreads:
    return AsyncRoutesShareThreads(app)
