"""Wakes `/sync` (and `/events`) long-polls when a stream position that concerns them moves.

A waiter is a future on its own event loop, registered under its keys: `("user", user_id)`,
`("room", room_id)`, `("device", (user_id, device_id))`. `notify(stream, position, ...)` resolves exactly
the waiters registered under the given keys whose since-position of that stream is below `position`.
Thousands of idle waiters cost a future each, no thread: `notify` may be called from any thread (the
replication transport's) and hands the wake-up to the waiter's loop with `call_soon_threadsafe`.

The last position notified per key and stream is remembered, so a change that lands between the moment a
`/sync` computed its since-token and the moment it started waiting still wakes it at once (the classic
lost wake-up). That memory is bounded (`max_keys`, least recently notified first out): a key's positions
leave it by raising a per-stream floor, and a waiter whose since-position is below the floor is woken at
once. That wake-up may be spurious (the `/sync` looks again, finds nothing, and waits from its new token,
which is past the floor: notified positions are never above what this process may read), never lost.

The replication listener (`replication_listener`) maps released rows to keys with the stream's
`notify_keys`; rows=None (a catch-up that could not read rows) wakes every waiter of that stream.
"""
from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from typing import Any, Hashable, Iterable, Mapping

from . import registry

Key = tuple[str, Hashable]


def keys_for(user_ids: Iterable[str] = (), room_ids: Iterable[str] = (),
             devices: Iterable[tuple[str, str]] = ()) -> list[Key]:
    return ([("user", u) for u in user_ids] + [("room", r) for r in room_ids]
            + [("device", (u, d)) for u, d in devices])


@dataclass(eq=False)
class _Waiter:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future
    since: Mapping[str, int]
    keys: tuple[Key, ...]
    changed: set[str] = field(default_factory=set)

    def concerned(self, stream: str, position: int) -> bool:
        return position > self.since.get(stream, 0)


# Keys whose last notified positions are remembered (rooms, users, devices that changed recently).
MAX_REMEMBERED_KEYS = 100_000


class Notifier:
    def __init__(self, max_keys: int = MAX_REMEMBERED_KEYS) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[Key, set[_Waiter]] = defaultdict(set)
        self._max_keys = max_keys
        # key -> stream -> last position notified; least recently notified first.
        self._latest: "OrderedDict[Key, dict[str, int]]" = OrderedDict()
        # notify_all positions, and what forgotten keys had: every key counts as changed up to here.
        self._latest_all: dict[str, int] = {}

    @property
    def remembered_keys(self) -> int:
        with self._lock:
            return len(self._latest)

    def _remember(self, key: Key, stream: str, position: int) -> None:
        """Record a notified position (caller holds the lock); forget the oldest keys past `max_keys`."""
        latest = self._latest.get(key)
        if latest is None:
            latest = self._latest[key] = {}
        else:
            self._latest.move_to_end(key)
        if position > latest.get(stream, 0):
            latest[stream] = position
        while len(self._latest) > self._max_keys:
            _, forgotten = self._latest.popitem(last=False)
            for s, p in forgotten.items():
                if p > self._latest_all.get(s, 0):
                    self._latest_all[s] = p

    @property
    def waiter_count(self) -> int:
        with self._lock:
            return len({w for ws in self._by_key.values() for w in ws})

    async def wait_for_change(self, keys: Iterable[Key], since_positions: Mapping[str, int],
                              timeout: float) -> frozenset[str]:
        """Wait until a stream position relevant to `keys` passes `since_positions[stream]` (0 if absent).
        Returns the streams that moved, or an empty set on timeout."""
        keys = tuple(dict.fromkeys(keys))
        since = dict(since_positions)
        loop = asyncio.get_running_loop()
        waiter = _Waiter(loop, loop.create_future(), since, keys)
        with self._lock:
            already = {s for s, p in self._latest_all.items() if p > since.get(s, 0)}
            for k in keys:
                already.update(s for s, p in self._latest.get(k, {}).items() if p > since.get(s, 0))
            if already:
                return frozenset(already)
            for k in keys:
                self._by_key[k].add(waiter)
        try:
            return await asyncio.wait_for(asyncio.shield(waiter.future), timeout)
        except asyncio.TimeoutError:
            return frozenset()
        finally:
            self._remove(waiter)

    def _remove(self, waiter: _Waiter) -> None:
        with self._lock:
            for k in waiter.keys:
                ws = self._by_key.get(k)
                if ws is not None:
                    ws.discard(waiter)
                    if not ws:
                        del self._by_key[k]

    def notify(self, stream: str, position: int, user_ids: Iterable[str] = (), room_ids: Iterable[str] = (),
               devices: Iterable[tuple[str, str]] = ()) -> int:
        """A change at `position` of `stream` concerns these keys. Thread-safe. Returns how many waiters woke."""
        keys = keys_for(user_ids, room_ids, devices)
        to_wake: list[_Waiter] = []
        with self._lock:
            for k in keys:
                self._remember(k, stream, position)
                for w in self._by_key.get(k, ()):
                    if w.concerned(stream, position):
                        w.changed.add(stream)
                        to_wake.append(w)
        return self._wake(to_wake)

    def notify_all(self, stream: str, position: int) -> int:
        """Every waiter is concerned (a change whose rows are unknown)."""
        to_wake: list[_Waiter] = []
        with self._lock:
            if position > self._latest_all.get(stream, 0):
                self._latest_all[stream] = position
            for ws in self._by_key.values():
                for w in ws:
                    if w.concerned(stream, position):
                        w.changed.add(stream)
                        to_wake.append(w)
        return self._wake(to_wake)

    def _wake(self, waiters: list[_Waiter]) -> int:
        woken = 0
        for w in dict.fromkeys(waiters):
            try:
                w.loop.call_soon_threadsafe(_resolve, w)
                woken += 1
            except RuntimeError:  # its loop is closed: the waiter is gone
                pass
        return woken


def _resolve(w: _Waiter) -> None:
    if not w.future.done():
        w.future.set_result(frozenset(w.changed))


def replication_listener(notifier: Notifier):
    """A `ReplicationState` listener feeding `notifier` with each released row's keys."""

    def listener(stream: str, instance: str, position: int, rows: list[tuple[int, dict[str, Any]]] | None) -> None:
        if rows is None:
            notifier.notify_all(stream, position)
            return
        keys_of = registry.get(stream).notify_keys
        for pos, row in rows:
            k = keys_of(row)
            notifier.notify(stream, pos, k.user_ids, k.room_ids, k.devices)
    return listener


_notifier: Notifier | None = None
_notifier_lock = threading.Lock()


def get_notifier() -> Notifier:
    global _notifier
    with _notifier_lock:
        if _notifier is None:
            _notifier = Notifier()
        return _notifier
