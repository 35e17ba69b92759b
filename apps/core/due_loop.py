"""A daemon thread that sleeps until the earliest time something falls due, then runs a round.

The shape shared by the per-process loops (typing timeouts, presence timeouts, the brokerless sender of
delayed events): `start()`, `stop()`, `schedule(due_ms)` (wake at that time at the latest; writes call
it as they record something with a deadline), `running`. A round runs with a fresh database connection
closed afterwards, so an idle loop holds none; a round that raises (the database restarting, say) is
logged and retried after `retry_ms`, so the loop outlives it. Lifecycle as STYLE 13.
"""
from __future__ import annotations

import atexit
import logging
import threading
import time

from django.db import close_old_connections, connection

logger = logging.getLogger(__name__)


def now_ms() -> int:
    return int(time.time() * 1000)


class DueLoop:
    name = "due-loop"
    retry_ms = 1_000

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._due: int | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._atexit = False

    def round(self, first: bool) -> None:
        """One round; `first` for the round the thread runs as it starts. Schedules the next itself."""
        raise NotImplementedError

    def on_stop(self) -> None:
        """What the loop forgets when it stops (after its thread ended)."""

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
            self._due = None
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
        self._thread = None
        self.on_stop()

    def schedule(self, due_ms: int) -> None:
        """Run a round at `due_ms` at the latest."""
        with self._cond:
            if self._due is None or due_ms < self._due:
                self._due = due_ms
                self._cond.notify_all()

    def _run(self) -> None:
        self._round(first=True)
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
            self._round(first=False)

    def _round(self, *, first: bool) -> None:
        try:
            close_old_connections()
            self.round(first)
        except Exception as e:  # noqa: BLE001 - the loop must survive a database hiccup
            logger.warning("%s: round failed (%s); retrying in %d ms", self.name, e, self.retry_ms,
                           exc_info=logger.isEnabledFor(logging.DEBUG))
            self.schedule(now_ms() + self.retry_ms)
        finally:
            connection.close()
