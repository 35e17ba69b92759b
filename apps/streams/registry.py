"""The streams of the homeserver, declared once (STYLE convention 9).

A `Stream` names a replicated sequence of changes and how a process that missed live messages reads
them back from the database: `fetch_rows(from_pos, to_pos, limit)` returns `[(position, row_dict)]` with
`from_pos < position <= to_pos`, ordered by position. It returns at most about `limit` rows but never
splits one position across two calls (it finishes the last position even past the limit), so paging on
the last position returned is exact. Fewer than `limit` rows means the range is complete.

The known streams are declared here, without fetch functions; the app that writes a stream attaches its
function from its `streams.py` (`registry.attach("receipts", fetch_rows=..., notify_keys=...)`).
`notify_keys(row)` says which `/sync` waiters a row concerns; the default reads the row's `user_id`,
`room_id` and (`user_id`, `device_id`) fields.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable

Row = dict[str, Any]
FetchRows = Callable[[int, int, int], list[tuple[int, Row]]]


@dataclass(frozen=True)
class NotifyKeys:
    user_ids: tuple[str, ...] = ()
    room_ids: tuple[str, ...] = ()
    devices: tuple[tuple[str, str], ...] = ()


def default_notify_keys(row: Row) -> NotifyKeys:
    user, room, device = row.get("user_id"), row.get("room_id"), row.get("device_id")
    return NotifyKeys(
        user_ids=(user,) if isinstance(user, str) and device is None else (),
        room_ids=(room,) if isinstance(room, str) else (),
        devices=((user, device),) if isinstance(user, str) and isinstance(device, str) else (),
    )


@dataclass(frozen=True)
class Stream:
    name: str
    # The `stream_writers` key whose instances write this stream (Synapse's names; `caches` and
    # `device_lists` have no key of their own and are written by `main` unless configured).
    writers_key: str
    fetch_rows: FetchRows | None = None
    notify_keys: Callable[[Row], NotifyKeys] = default_notify_keys
    # Whether a client's sync token carries this stream's position.
    in_token: bool = True


_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
_lock = threading.Lock()
_streams: dict[str, Stream] = {}


def register(stream: Stream) -> Stream:
    """Declare a stream (its name becomes the PostgreSQL sequence `hs_stream_<name>`)."""
    if not _NAME.match(stream.name):
        raise ValueError(f"bad stream name {stream.name!r}: lowercase letters, digits and _ only")
    with _lock:
        if stream.name in _streams:
            raise ValueError(f"stream {stream.name!r} is already registered")
        _streams[stream.name] = stream
    return stream


def attach(name: str, *, fetch_rows: FetchRows | None = None,
           notify_keys: Callable[[Row], NotifyKeys] | None = None) -> Stream:
    """The writing app supplies how to read its rows back and whom they concern."""
    with _lock:
        s = _streams[name]
        changes: dict[str, Any] = {}
        if fetch_rows is not None:
            changes["fetch_rows"] = fetch_rows
        if notify_keys is not None:
            changes["notify_keys"] = notify_keys
        _streams[name] = s = replace(s, **changes)
    return s


def get(name: str) -> Stream:
    try:
        return _streams[name]
    except KeyError:
        raise KeyError(f"unknown stream {name!r}; known: {', '.join(_streams)}") from None


def all_streams() -> tuple[Stream, ...]:
    return tuple(_streams.values())


def token_streams() -> tuple[Stream, ...]:
    return tuple(s for s in _streams.values() if s.in_token)


def _replace_for_tests(stream: Stream) -> Callable[[], None]:
    """Swap a declaration (e.g. a test's fetch function); returns a function restoring the old one."""
    with _lock:
        old = _streams.get(stream.name)
        _streams[stream.name] = stream

    def restore() -> None:
        with _lock:
            if old is None:
                _streams.pop(stream.name, None)
            else:
                _streams[stream.name] = old
    return restore


KNOWN_STREAMS: tuple[str, ...] = ("events", "typing", "receipts", "account_data", "to_device", "presence",
                                  "push_rules", "device_lists", "caches")


def _declare_known(names: Iterable[str]) -> None:
    for n in names:
        register(Stream(n, writers_key=n, in_token=(n != "caches")))


_declare_known(KNOWN_STREAMS)
