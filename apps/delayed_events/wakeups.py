"""What wakes the sending of delayed events. The rows are the work (models.py); these are only wake-ups.

- With Celery (scaled mode): after the commit that schedules or restarts a delayed event,
  `background.send_delayed_events` is queued with a countdown to its due time, if that is within
  WAKEUP_HORIZON_S (a longer countdown would sit in a worker's memory and, on Redis, be delivered again
  after the visibility timeout). The beat row `delayed-events-sweep` (workers/beat.py) runs the same task
  every few seconds, for what no message woke: far-off events, a lost message, a restart.
- In the embedded default (tasks run in-process, no beat): one daemon thread per process sleeps until the
  earliest due time it knows (the table's when it starts, then each scheduling's), runs the sweep, and
  sleeps until the next. It starts on the first delayed-events request the process handles; events
  pending across a restart are found by the in-process beat's sweep (workers.local_beat). Tests turn it off (`IN_PROCESS_THREAD =
  False`) and run the sweep themselves on a simulated clock. Lifecycle (STYLE 13): `name`, `start()`,
  `stop()`, `schedule()` (apps.core.due_loop).
"""
from __future__ import annotations

import threading
import time

from django.db import transaction

from apps.core.due_loop import DueLoop as BaseDueLoop

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


class DueLoop(BaseDueLoop):
    name = "delayed-events"
    retry_ms = LOOP_RETRY_MS

    def round(self, first: bool) -> None:
        """Send what is due (on the first round too: what fell due while nothing ran), then sleep until
        the next due time."""
        from .handlers import send_due

        result = send_due()
        next_due = _now_ms() if result["more"] else result["next_send_ts"]
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
