"""The typing writer's timeout loop: a user stops typing when their timeout passes, without any request.

One daemon thread per process that writes the `typing` stream (`stream_writers.typing`), started on the
first typing request this process handles. It sleeps until the earliest expiry it knows of (from the
table when it starts, then from each write: `schedule(due_ms)`), removes what has expired through
`stores.expire_due` (which moves the stream, so syncing clients see the user disappear) and looks up the
next expiry. Lifecycle (STYLE 13): `name`, `start()`, `stop()`, `schedule()`; the database connection
of its thread is closed after every round, so an idle loop holds none.
"""
from __future__ import annotations

import time

from apps.core.due_loop import DueLoop

from . import stores


def now_ms() -> int:
    return int(time.time() * 1000)


class TimeoutLoop(DueLoop):
    name = "typing-timeouts"

    def round(self, first: bool) -> None:
        """Expire what is due (not on the first round, which only learns the next expiry), then learn the
        next expiry from the table (writes made meanwhile have scheduled themselves too)."""
        if not first:
            stores.expire_due(now_ms())
        nxt = stores.next_expiry_ms()
        if nxt is not None:
            self.schedule(nxt)


_loop = TimeoutLoop()


def loop() -> TimeoutLoop:
    return _loop
