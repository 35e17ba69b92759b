"""Same-process delivery: the embedded default and the tests.

Several `ReplicationState`s (simulated processes) may share one `InProcBus`; a message is handed to every
subscriber synchronously, in the publisher's thread, in publication order.
"""
from __future__ import annotations

import logging
import threading

from .base import Message, MessageCallback, ResyncCallback, Transport

logger = logging.getLogger(__name__)


class InProcBus:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._subscribers: list[MessageCallback] = []
        self.paused = False  # tests: drop messages, as a Redis outage would
        self.dropped: list[Message] = []

    def add(self, callback: MessageCallback) -> None:
        with self._lock:
            self._subscribers.append(callback)

    def remove(self, callback: MessageCallback) -> None:
        with self._lock:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

    def deliver(self, message: Message) -> bool:
        with self._lock:
            if self.paused:
                self.dropped.append(message)
                return False
            subscribers = list(self._subscribers)
            for cb in subscribers:
                try:
                    cb(message)
                except Exception:
                    logger.exception("replication subscriber failed on %s/%s", message.stream, message.instance)
            return True


DEFAULT_BUS = InProcBus()


class InProcTransport(Transport):
    def __init__(self, bus: InProcBus | None = None) -> None:
        self.bus = bus if bus is not None else DEFAULT_BUS
        self._callbacks: list[MessageCallback] = []
        self._resync: list[ResyncCallback] = []

    def publish(self, message: Message) -> bool:
        return self.bus.deliver(message)

    def subscribe(self, callback: MessageCallback, on_resync: ResyncCallback | None = None) -> None:
        self._callbacks.append(callback)
        self.bus.add(callback)
        if on_resync is not None:
            self._resync.append(on_resync)
            on_resync()

    def resync(self) -> None:
        """Tests: what a reconnect does (the receiver compares itself with the database)."""
        for cb in self._resync:
            cb()

    def stop(self) -> None:
        for cb in self._callbacks:
            self.bus.remove(cb)
        self._callbacks.clear()
        self._resync.clear()
