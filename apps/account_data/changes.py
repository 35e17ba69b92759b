"""Which keys a stream's rows touched, as this process heard them: lets a `/sync` section skip its query
when its stream moved only for other users (Synapse's stream change cache, kept here for the
`account_data` and `to_device` sections).

A `StreamChanges` listens to this process's replication state (`apps.streams.replication`) and records,
per key (`key_of(row)`), the highest position of a row for it. `may_have_changed(key, since, now)` is
False only when the answer is certain:

- everything up to `now` was heard (`now <= seen`: rows are handed to listeners after the position moves,
  so a sync may read a `now` whose rows are still on their way; then it must query);
- `since` is not older than what the record covers (`earliest`: the position when it started listening,
  raised when an entry is evicted or a catch-up could not say which rows it brought).

It is an optimisation only: whenever it is unsure it says "maybe", and the caller reads the database.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable

MAX_KEYS = 100_000


class StreamChanges:
    def __init__(self, stream: str, key_of: Callable[[dict[str, Any]], Hashable | None], *,
                 max_keys: int = MAX_KEYS) -> None:
        self.stream = stream
        self.key_of = key_of
        self.max_keys = max_keys
        self._lock = threading.Lock()
        self._attach_lock = threading.Lock()
        self._state: Any = None
        self._earliest = 0
        self._seen = 0
        self._latest: "OrderedDict[Hashable, int]" = OrderedDict()

    def _ensure_listening(self) -> None:
        from apps.streams import replication

        state = replication.get_state()
        if self._state is state:
            return
        # The state's methods take its lock, and it calls the listener holding it: never call them
        # while holding self._lock (lock order: state, then self._lock).
        with self._attach_lock:
            if self._state is state:
                return
            # Listen first, then take the starting point: whatever was heard before is forgotten and
            # covered by `earliest` ("unsure").
            state.add_listener(self._listener)
            start = state.persisted_up_to(self.stream)
            with self._lock:
                self._latest.clear()
                self._earliest = self._seen = max(start, self._seen)
                self._state = state

    def _listener(self, stream: str, _instance: str, position: int, rows) -> None:
        if stream != self.stream:
            return
        with self._lock:
            if rows is None:
                self._earliest = max(self._earliest, position)
            else:
                for pos, row in rows:
                    key = self.key_of(row)
                    if key is None:
                        continue
                    self._latest[key] = max(pos, self._latest.get(key, 0))
                    self._latest.move_to_end(key)
                while len(self._latest) > self.max_keys:
                    _, evicted = self._latest.popitem(last=False)
                    self._earliest = max(self._earliest, evicted)
            self._seen = max(self._seen, position)

    def may_have_changed(self, key: Hashable, since: int, now: int) -> bool:
        """Whether a row for `key` may have a position in (since, now]."""
        if now <= since:
            return False
        self._ensure_listening()
        with self._lock:
            if now > self._seen or since < self._earliest:
                return True
            return self._latest.get(key, 0) > since
