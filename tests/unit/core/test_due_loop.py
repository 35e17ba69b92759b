"""apps.core.due_loop: a round when the thread starts, one at each scheduled time, a failed round retried,
nothing after stop."""
from __future__ import annotations

import threading

from apps.core.due_loop import DueLoop, now_ms


class Recorder(DueLoop):
    name = "test-loop"
    retry_ms = 20

    def __init__(self, fail_first: int = 0):
        super().__init__()
        self.rounds: list[bool] = []
        self.fail_first = fail_first
        self.event = threading.Event()
        self.stopped = False

    def round(self, first: bool) -> None:
        self.rounds.append(first)
        if len(self.rounds) <= self.fail_first:
            raise RuntimeError("database away")
        self.event.set()

    def on_stop(self) -> None:
        self.stopped = True


def _wait_rounds(loop: Recorder, n: int) -> None:
    deadline = now_ms() + 5000
    while len(loop.rounds) < n:
        assert now_ms() < deadline, loop.rounds
        loop.event.wait(0.05)
        loop.event.clear()


def test_a_first_round_then_one_per_schedule():
    loop = Recorder()
    loop.start()
    try:
        _wait_rounds(loop, 1)
        assert loop.rounds == [True] and loop.running
        loop.schedule(now_ms())
        _wait_rounds(loop, 2)
        assert loop.rounds == [True, False]
    finally:
        loop.stop()
    assert not loop.running and loop.stopped


def test_a_failed_round_is_retried():
    loop = Recorder(fail_first=2)
    loop.start()
    try:
        _wait_rounds(loop, 3)
        assert loop.rounds[:3] == [True, False, False]
    finally:
        loop.stop()


def test_the_earliest_schedule_wins_and_stop_ends_the_thread():
    loop = Recorder()
    loop.start()
    _wait_rounds(loop, 1)
    loop.schedule(now_ms() + 60_000)
    loop.schedule(now_ms() + 10)
    _wait_rounds(loop, 2)
    loop.schedule(now_ms() + 60_000)
    loop.stop()
    assert len(loop.rounds) == 2 and not loop.running
