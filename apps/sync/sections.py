"""The parts of a `/sync` response that other apps own: how they plug in.

The rooms part of `/sync` (timelines, state, membership sections) is `handlers.sync`'s own. Everything
else (typing and receipts in `ephemeral`, account data, to-device messages, presence, device lists,
one-time-key counts, notification counts) belongs to the app that writes the stream, which registers a
`fill` function from its `AppConfig.ready()`:

    from apps.sync import sections
    sections.register("receipts", fill_receipts)

`fill(ctx, response)` runs once per sync computation, after the rooms part, and adds to `response` in
place. `ctx` (a `SyncContext`) says who is syncing, the `since` token (None on an initial sync), the
`now` token whose positions bound every read (read at most up to `ctx.now.position(stream)`, never
past it, or the next sync would skip or repeat rows), the filter, and the rooms the user is joined to.
`ctx.room_entry(room_id)` gives the `rooms.join` entry of a joined room, creating an empty one when the
rooms part had nothing to say about it (a receipt in an otherwise quiet room still reaches the client).

A fill that added anything a client must see must make `has_updates` true: it does so by putting it in
the response (non-empty lists of the top-level sections, or a joined-room entry, count).

A fill that sends only part of what is pending (to-device messages, at most 100 per response) lowers
its stream's position in `next_batch` to the last row it sent: `ctx.cap_token_position(stream, pos)`
(never below `since`); the handler applies the lowest cap of each stream, so the next sync starts right
after what was sent and skips nothing.

`register_request_hook(fn)` adds a function called once per `/sync` request with `(requester, params)`
before anything is computed (presence's `set_presence`).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable

Fill = Callable[["SyncContext", dict[str, Any]], None]
RequestHook = Callable[[Any, Any], None]

_lock = threading.Lock()
_sections: dict[str, Fill] = {}
_request_hooks: dict[str, RequestHook] = {}


def register(name: str, fill: Fill) -> None:
    """Add (or, for the same name, replace: `ready()` may run twice in tests) a response section."""
    with _lock:
        _sections[name] = fill


def register_request_hook(name: str, hook: RequestHook) -> None:
    with _lock:
        _request_hooks[name] = hook


def fills() -> list[tuple[str, Fill]]:
    with _lock:
        return list(_sections.items())


def request_hooks() -> list[RequestHook]:
    with _lock:
        return list(_request_hooks.values())


def empty_joined_room(prev_batch: str) -> dict[str, Any]:
    return {
        "timeline": {"events": [], "limited": False, "prev_batch": prev_batch},
        "state": {"events": []},
        "ephemeral": {"events": []},
        "account_data": {"events": []},
        "unread_notifications": {"highlight_count": 0, "notification_count": 0},
    }


@dataclass
class SyncContext:
    requester: Any
    since: Any  # StreamToken | None
    now: Any  # StreamToken
    full_state: bool
    filter: Any  # apps.sync.filters.SyncFilter
    joined_rooms: list[str]
    response: dict[str, Any]
    # Rooms whose entry a section created (so the rooms part's "nothing changed" rule does not apply).
    created_entries: set[str] = field(default_factory=set)
    # stream -> the highest position next_batch may carry (`cap_token_position`).
    token_caps: dict[str, int] = field(default_factory=dict)

    @property
    def user_id(self) -> str:
        return self.requester.user_id

    @property
    def device_id(self) -> str | None:
        return self.requester.device_id

    @property
    def initial(self) -> bool:
        """An initial or full-state sync: every section sends its whole current view, not a delta."""
        return self.since is None or self.full_state

    def since_position(self, stream: str) -> int:
        return self.since.position(stream) if self.since is not None else 0

    def stream_moved(self, stream: str) -> bool:
        """Whether `stream` has anything between `since` and `now` (always true on an initial sync)."""
        return self.initial or self.now.position(stream) > self.since_position(stream)

    def cap_token_position(self, stream: str, position: int) -> None:
        """`next_batch` carries at most `position` for `stream` (the fill sent rows only up to there)."""
        position = max(position, self.since_position(stream))
        self.token_caps[stream] = min(position, self.token_caps.get(stream, position))

    def next_batch(self) -> Any:
        """`now`, with each capped stream lowered to its cap."""
        if not self.token_caps:
            return self.now
        from apps.streams.tokens import StreamToken

        positions = dict(self.now.positions)
        for stream, cap in self.token_caps.items():
            positions[stream] = min(positions[stream], cap)
        return StreamToken(positions, self.now.events_writers)

    def _prev_batch(self) -> str:
        return f"s{self.now.position('events')}"

    def room_entry(self, room_id: str) -> dict[str, Any]:
        join = self.response["rooms"]["join"]
        entry = join.get(room_id)
        if entry is None:
            entry = join[room_id] = empty_joined_room(self._prev_batch())
            self.created_entries.add(room_id)
        return entry


def run_fills(ctx: SyncContext) -> None:
    for _name, fill in fills():
        fill(ctx, ctx.response)
    # A room entry a section created but left empty (nothing it could show) is not an update.
    join = ctx.response["rooms"]["join"]
    for room_id in ctx.created_entries:
        entry = join.get(room_id)
        if entry is not None and entry == empty_joined_room(ctx._prev_batch()):
            del join[room_id]
