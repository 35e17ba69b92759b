"""The replication message and the transport interface.

A `Message` says: writer `instance` of `stream` has committed everything it will ever write at or below
`position` (its *current* position), the last one it published was `prev`, and here are the rows it
committed since then, each with its own position (a row may be above `position` when a lower position
of the same writer is still in flight; receivers hold such rows back until `persisted_up_to` passes
them). A position-only message (`rows=[]`) announces an idle writer's advance.

`prev` lets a receiver see a gap: if what it knows of (`stream`, `instance`) is below `prev`, it missed a
message and catches up from the database before applying this one.
"""
from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable

Row = dict[str, Any]


@dataclass(frozen=True)
class Message:
    stream: str
    instance: str
    position: int
    prev: int = 0
    rows: tuple[tuple[int, Row], ...] = ()
    origin: str = ""  # the publishing ReplicationState; it skips its own echo

    def to_json(self) -> str:
        return json.dumps({"stream": self.stream, "instance": self.instance, "position": self.position,
                           "prev": self.prev, "rows": [[p, r] for p, r in self.rows],
                           "origin": self.origin}, separators=(",", ":"))

    @classmethod
    def from_json(cls, data: str | bytes) -> "Message":
        d = json.loads(data)
        rows = tuple((int(p), r) for p, r in d.get("rows", ()))
        if not all(isinstance(r, dict) for _, r in rows):
            raise ValueError("rows must be objects")
        return cls(stream=str(d["stream"]), instance=str(d["instance"]), position=int(d["position"]),
                   prev=int(d.get("prev", 0)), rows=rows, origin=str(d.get("origin", "")))


MessageCallback = Callable[[Message], None]
ResyncCallback = Callable[[], None]


class Transport(ABC):
    """Delivers messages to every subscribed process (including, possibly, the publisher itself).

    `publish` never raises for a transport failure: it runs after the commit, and the database already
    holds what a receiver needs to catch up. `on_resync` is called when the subscription is
    (re)established and periodically; the receiver then compares itself with the database.
    """

    @abstractmethod
    def publish(self, message: Message) -> bool:
        """Send `message`; False if it could not be sent (logged, never raised)."""

    @abstractmethod
    def subscribe(self, callback: MessageCallback, on_resync: ResyncCallback | None = None) -> None:
        """Deliver every later message to `callback` (from whatever thread the transport uses)."""

    def start(self) -> None:  # pragma: no cover - trivial default
        pass

    def stop(self) -> None:  # pragma: no cover - trivial default
        pass

    def wait_until_subscribed(self, timeout: float = 5.0) -> bool:
        return True
