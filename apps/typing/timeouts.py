"""The typing writer's timeout loop: a user stops typing when their timeout passes, without any request.

One daemon thread per process that writes the `typing` stream (`stream_writers.typing`), started on the
first typing request this process handles. It sleeps until the earliest expiry it knows of (from the
table when it starts, then from each write: `schedule(due_ms)`), removes what has expired through
`stores.expire_due` (which moves the stream, so syncing clients see the user disappear) and looks up the
next expiry. Lifecycle (STYLE 13): `name`, `start()`, `stop()`, `schedule()`; the database connection
of its thread is closed after every round, so an idle loop holds none.
"""
from __future__ import annotations

import atexit
import logging
import threading
import time

from django.db import close_old_connections, connection

from . import stores

logger = logging.getLogger(__name__)


def now_ms() -> int:
    return int(time.time() * 1000)


class TimeoutLoop:
    name = "typing-timeouts"

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._due: int | None = None
        self._thread: threading.Thread | None = None
        self._atexit = False
        self._stopping = False

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        with self._cond:
            if self.running:
                return
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
            if not self._atexit:
                # Stop before the interpreter tears down logging and database connections.
                atexit.register(self.stop, 1.0)
                self._atexit = True

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
        self._thread = None

    def schedule(self, due_ms: int) -> None:
        """Something expires at `due_ms`: wake up then at the latest."""
        with self._cond:
            if self._due is None or due_ms < self._due:
                self._due = due_ms
                self._cond.notify_all()

    def _run(self) -> None:
        self._round(expire=False)
        while True:
            with self._cond:
                while not self._stopping:
                    wait = None if self._due is None else (self._due - now_ms()) / 1000
                    if wait is not None and wait <= 0:
                        break
                    self._cond.wait(wait)
                if self._stopping:
                    return
                self._due = None
            self._round(expire=True)

    def _round(self, *, expire: bool) -> None:
        """Expire what is due, then learn the next expiry from the table (writes made meanwhile have
        scheduled themselves too)."""
        try:
            close_old_connections()
            if expire:
                stores.expire_due(now_ms())
            nxt = stores.next_expiry_ms()
            if nxt is not None:
                self.schedule(nxt)
        except Exception as e:  # noqa: BLE001 - the loop must survive a database hiccup
            logger.warning("typing timeouts: round failed (%s); retrying in a second", e,
                           exc_info=logger.isEnabledFor(logging.DEBUG))
            self.schedule(now_ms() + 1000)
        finally:
            connection.close()


_loop = TimeoutLoop()


def loop() -> TimeoutLoop:
    return _loop
