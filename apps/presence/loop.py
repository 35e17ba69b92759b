"""The presence loop of a process: keeps connected users online and, on the presence writer, runs the
timeouts.

- Users with a /sync in progress on this process (a long-poll counts as being connected; `set_presence`
  other than `offline`) are marked seen every `INTERVAL_MS`, so the offline timeout only catches users
  who stopped syncing (the /sync request hook marks a user seen when a request starts, but a long-poll
  may last longer than the timeout).
- On the `presence` stream's writer: when the earliest idle/offline/activity deadline passes (learnt
  from the table after each round, and from every write: `schedule`), the users concerned get their
  change written and published (`handlers.apply_due`), so syncing clients see a user go idle or offline
  without any request. States asked for by /sync on other processes (`pending_state`) are applied too:
  with other instances configured, the writer looks every `INTERVAL_MS`.

One daemon thread per process, started by the first presence request or /sync it serves; it sleeps while
there is nothing to do. Lifecycle (STYLE 13): `name`, `start()`, `stop()`, `schedule()`, `run_once()`; its
database connection is closed after each round.
"""
from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref

from django.db import close_old_connections, connection

logger = logging.getLogger(__name__)

INTERVAL_MS = 5_000


def _now_ms() -> int:
    return int(time.time() * 1000)


class PresenceLoop:
    name = "presence"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cond = threading.Condition()
        self._due: int | None = None
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._atexit = False
        # id(requester) -> (user_id, weak reference): the /sync requests in progress here. A requester
        # lives as long as its request; its reference's callback forgets it.
        self._syncing: dict[int, tuple[str, weakref.ref]] = {}

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
        with self._lock:
            self._syncing.clear()

    def schedule(self, due_ms: int) -> None:
        """Run a round at `due_ms` at the latest."""
        with self._cond:
            if self._due is None or due_ms < self._due:
                self._due = due_ms
                self._cond.notify_all()

    def track_sync(self, requester) -> None:
        key = id(requester)

        def gone(_ref, key=key) -> None:
            with self._lock:
                self._syncing.pop(key, None)
        with self._lock:
            self._syncing[key] = (requester.user_id, weakref.ref(requester, gone))
        self.schedule(_now_ms() + INTERVAL_MS)

    def syncing_user_ids(self) -> set[str]:
        with self._lock:
            return {user_id for user_id, ref in self._syncing.values() if ref() is not None}

    def _run(self) -> None:
        self._round()
        while True:
            with self._cond:
                while not self._stopping:
                    wait = None if self._due is None else (self._due - _now_ms()) / 1000
                    if wait is not None and wait <= 0:
                        break
                    self._cond.wait(wait)
                if self._stopping:
                    return
                self._due = None
            self._round()

    def _round(self) -> None:
        try:
            close_old_connections()
            self.run_once()
        except Exception as e:  # noqa: BLE001 - the loop must survive a database hiccup
            logger.warning("presence loop: round failed (%s); retrying", e, exc_info=logger.isEnabledFor(logging.DEBUG))
            self.schedule(_now_ms() + INTERVAL_MS)
        finally:
            connection.close()

    def run_once(self, now: int | None = None) -> None:
        from hsproject import instance

        from . import handlers, stores

        now = handlers.now_ms() if now is None else now
        syncing = self.syncing_user_ids()
        if syncing:
            stores.touch_seen(syncing, now)
            self.schedule(now + INTERVAL_MS)
        if instance.writes(stores.STREAM):
            handlers.apply_due(now)
            deadline = stores.next_deadline()
            if deadline is not None:
                self.schedule(max(deadline, now + 100))
            if len(instance.config().workers.instance_map) > 1:
                self.schedule(now + INTERVAL_MS)  # other processes may have asked for states


_loop = PresenceLoop()


def loop() -> PresenceLoop:
    return _loop
