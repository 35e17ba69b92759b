"""Stream positions with several writers, and the persisted-up-to rule readers obey.

Positions of a multi-writer stream (`events`) come from one shared sequence, so they are globally
unique but are committed out of order: writer A may take 7, writer B 8, and B may commit first. A reader
that jumped to 8 would never see 7. So:

- each writer keeps a `WriterPositions`: the positions it allocated and has not finished; its *current
  position* is the highest position below which it has nothing in flight;
- every process keeps a `StreamPositions` per stream: the last current position heard from each writer
  (from Redis replication or from the `stream_positions` table on catch-up);
- readers read only up to `persisted_up_to()`, the minimum over writers, so nothing committed later
  with a smaller position is ever skipped.

An idle writer would hold the minimum back forever; so a writer with nothing in flight reports the
highest position it has seen allocated anywhere (`idle_advance`), as Synapse's MultiWriterIdGenerator does.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field


class WriterPositions:
    """One writer's view of its own allocations: in-flight positions and the current position."""

    def __init__(self, current: int = 0):
        self._lock = threading.Lock()
        self._current = current
        self._in_flight: set[int] = set()
        self._finished_max = current

    def started(self, position: int) -> None:
        with self._lock:
            if position <= self._current:
                raise ValueError(f"position {position} is not after the current position {self._current}")
            self._in_flight.add(position)

    def finished(self, position: int) -> int:
        """Mark `position` committed (or abandoned); returns the new current position."""
        with self._lock:
            self._in_flight.discard(position)
            self._finished_max = max(self._finished_max, position)
            self._current = (min(self._in_flight) - 1) if self._in_flight else self._finished_max
            return self._current

    def idle_advance(self, highest_allocated: int) -> int:
        """With nothing in flight, the writer may claim everything up to the highest allocated position:
        anything it has not written there, it never will."""
        with self._lock:
            if not self._in_flight and highest_allocated > self._current:
                self._current = self._finished_max = highest_allocated
            return self._current

    @property
    def current(self) -> int:
        with self._lock:
            return self._current

    @property
    def highest(self) -> int:
        """The highest position this writer has started or finished (never below `current`)."""
        with self._lock:
            return max(self._finished_max, self._current, max(self._in_flight, default=0))

    @property
    def in_flight(self) -> frozenset[int]:
        with self._lock:
            return frozenset(self._in_flight)


@dataclass
class StreamPositions:
    """What one process knows of a stream: each writer's current position."""

    writers: tuple[str, ...]
    positions: dict[str, int] = field(default_factory=dict)

    def advance(self, instance: str, position: int) -> bool:
        """Record a writer's current position; positions never go back. True if it moved."""
        if instance not in self.writers:
            raise KeyError(f"{instance!r} is not a writer of this stream")
        if position > self.positions.get(instance, 0):
            self.positions[instance] = position
            return True
        return False

    def current_for(self, instance: str) -> int:
        return self.positions.get(instance, 0)

    def persisted_up_to(self) -> int:
        """Every event with a position at or below this is committed, whoever wrote it."""
        return min((self.positions.get(w, 0) for w in self.writers), default=0)

    def max_position(self) -> int:
        return max(self.positions.values(), default=0)
