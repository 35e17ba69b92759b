"""What wakes the sending of delayed events. The rows are the work (models.py); these are only wake-ups.

- With Celery (scaled mode): after the commit that schedules or restarts a delayed event,
  `background.send_delayed_events` is queued with a countdown to its due time, if that is within
  WAKEUP_HORIZON_S (a longer countdown would sit in a worker's memory and, on Redis, be delivered again
  after the visibility timeout). The beat row `delayed-events-sweep` (workers/beat.py) runs the same task
  every few seconds, for what no message woke: far-off events, a lost message, a restart.
- In the embedded default (tasks run in-process, no beat): one daemon thread per process sleeps until the
  earliest due time it knows (the table's when it starts, then each scheduling's), runs the sweep, and
  sleeps until the next. It starts on the first delayed-events request the process handles, so events
  pending across a restart are sent once the server sees one. Tests turn it off (`IN_PROCESS_THREAD =
  False`) and run the sweep themselves on a simulated clock. Lifecycle (STYLE 13): `name`, `start()`,
  `stop()`, `schedule()`.
"""
from __future__ import annotations

import atexit
import logging
import threading
import time

from django.db import connection, transaction

logger = logging.getLogger(__name__)

IN_PROCESS_THREAD = True
WAKEUP_HORIZON_S = 1800
# The in-process loop's fallback when a sweep failed (the database away): try again after this long.
LOOP_RETRY_MS = 5_000


def _now_ms() -> int:
    return int(time.time() * 1000)


def _eager() -> bool:
    from hsproject.celery import app

    return bool(app.conf.task_always_eager)


def wake_at(send_ts: int) -> None:
    """Something falls due at `send_ts` (ms)."""
    if not _eager():
        from workers.background import send_delayed_events

        countdown = max(0.0, (send_ts - _now_ms()) / 1000)
        if countdown <= WAKEUP_HORIZON_S:
            send_delayed_events.apply_async(countdown=countdown)
        return
    if IN_PROCESS_THREAD:
        loop().start()
        loop().schedule(send_ts)


def wake_on_commit(send_ts: int) -> None:
    transaction.on_commit(lambda: wake_at(send_ts))


def ensure_running() -> None:
    """In-process only: make sure the loop runs (it looks at the table when it starts)."""
    if IN_PROCESS_THREAD and _eager():
        loop().start()


class DueLoop:
    name = "delayed-events"

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._due: int | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._atexit = False

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        with self._cond:
            if self.running:
                return
            self._stopping = False
            self._due = 0  # a first sweep at once: what is already due, and the next due time
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
            if not self._atexit:
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
        with self._cond:
            if self._due is None or due_ms < self._due:
                self._due = due_ms
                self._cond.notify_all()

    def _run(self) -> None:
        from .handlers import send_due

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
            try:
                result = send_due()
                next_due = _now_ms() if result["more"] else result["next_send_ts"]
            except Exception:  # the loop must outlive a bad round (database restarting ...)
                logger.exception("sending delayed events failed")
                next_due = _now_ms() + LOOP_RETRY_MS
            finally:
                connection.close()
            if next_due is not None:
                self.schedule(next_due)


_loop: DueLoop | None = None
_loop_lock = threading.Lock()


def loop() -> DueLoop:
    global _loop
    with _loop_lock:
        if _loop is None:
            _loop = DueLoop()
        return _loop
