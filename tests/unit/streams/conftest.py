"""Several simulated processes in one test: ReplicationStates over one in-process bus."""
from __future__ import annotations

import threading
from typing import Any

import pytest

from apps.streams import registry
from apps.streams.replication import ReplicationState
from apps.streams.transport.inproc import InProcBus, InProcTransport


class RowLog:
    """A stand-in for an app's stream table: rows by position, readable by `fetch_rows`."""

    def __init__(self) -> None:
        self.rows: dict[int, list[dict[str, Any]]] = {}
        self.lock = threading.Lock()
        self.fetches: list[tuple[int, int]] = []

    def add(self, position: int, *rows: dict[str, Any]) -> None:
        with self.lock:
            self.rows.setdefault(position, []).extend(rows)

    def fetch(self, from_pos: int, to_pos: int, limit: int):
        with self.lock:
            self.fetches.append((from_pos, to_pos))
            out = []
            for p in sorted(self.rows):
                if from_pos < p <= to_pos:
                    out.extend((p, r) for r in self.rows[p])
                    if len(out) >= limit:
                        break
            return out


@pytest.fixture
def row_logs():
    """A RowLog attached to each of `typing` and `events` for the duration of the test."""
    logs = {name: RowLog() for name in ("typing", "events")}
    restores = []
    for name, log in logs.items():
        s = registry.get(name)
        restores.append(registry._replace_for_tests(registry.Stream(s.name, s.writers_key, log.fetch, s.notify_keys)))
    yield logs
    for r in restores:
        r()


@pytest.fixture
def bus() -> InProcBus:
    return InProcBus()


@pytest.fixture
def make_state(bus):
    states: list[ReplicationState] = []

    def make(name: str, writers: dict[str, tuple[str, ...]] | None = None, transport=None) -> ReplicationState:
        w = dict(writers or {})
        st = ReplicationState(name, lambda s: w.get(s, ("main",)), transport or InProcTransport(bus))
        states.append(st)
        return st.start()

    yield make
    for st in states:
        st.stop()


class Recorder:
    """A replication listener that records what it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int, Any]] = []

    def __call__(self, stream, instance, position, rows):
        self.calls.append((stream, instance, position, rows))

    def rows(self, stream: str) -> list[tuple[int, dict]]:
        return [r for s, _, _, rows in self.calls if s == stream and rows for r in rows]
