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

import threading
import time
import weakref

from apps.core.due_loop import DueLoop

INTERVAL_MS = 5_000


def _now_ms() -> int:
    return int(time.time() * 1000)


class PresenceLoop(DueLoop):
    name = "presence"
    retry_ms = INTERVAL_MS

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        # id(requester) -> (user_id, weak reference): the /sync requests in progress here. A requester
        # lives as long as its request; its reference's callback forgets it.
        self._syncing: dict[int, tuple[str, weakref.ref]] = {}

    def on_stop(self) -> None:
        with self._lock:
            self._syncing.clear()

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

    def round(self, first: bool) -> None:
        self.run_once()

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
