"""The sync `Filter` (client-server API, "Filtering"; data/api/client-server/definitions/sync_filter.yaml).

`parse_filter(obj)` validates a filter object (uploaded with `POST /user/{userId}/filter` or given inline
to `/sync?filter={...}`) and returns a `SyncFilter`: `event_fields`, `event_format`, `presence` and
`account_data` (EventFilter), `room` (RoomFilter: `rooms`, `not_rooms`, `include_leave`, and the
RoomEventFilters `timeline`, `state`, `ephemeral`, `account_data`). Invalid values are `M_BAD_JSON`
(400). Unknown keys are ignored (the spec grows filters; clients send newer ones).

Room event filters (`RoomEventFilter`) belong to the rooms app (`/messages` uses them too):
`apps.rooms.filters.RoomEventFilter` parses and applies them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable

from apps.core.errors import Codes, MatrixError
from apps.rooms.filters import RoomEventFilter

DEFAULT_TIMELINE_LIMIT = 10
MAX_LIMIT = 1000


def _bad(msg: str) -> MatrixError:
    return MatrixError(Codes.BAD_JSON, f"Invalid filter: {msg}", 400)


def _str_list(raw: dict, key: str, where: str, *, room_ids: bool = False) -> tuple[str, ...] | None:
    if key not in raw or raw[key] is None:
        return None
    value = raw[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(f"{where}{key} must be a list of strings")
    if room_ids and not all(v.startswith("!") for v in value):
        raise _bad(f"{where}{key} must be a list of room IDs")
    return tuple(value)


def _bool(raw: dict, key: str, where: str, default: bool = False) -> bool:
    value = raw.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _bad(f"{where}{key} must be a boolean")
    return value


def _object(raw: Any, where: str) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _bad(f"{where} must be an object")
    return raw


@lru_cache(maxsize=1024)
def _glob(pattern: str) -> re.Pattern:
    # Spec: "A '*' can be used as a wildcard to match any sequence of characters."
    return re.compile(".*".join(re.escape(p) for p in pattern.split("*")), re.DOTALL)


def _any_match(value: str, patterns: Iterable[str]) -> bool:
    return any(_glob(p).fullmatch(value) for p in patterns)


@dataclass(frozen=True)
class EventFilter:
    """EventFilter (event_filter.yaml): `limit`, `types`, `not_types`, `senders`, `not_senders`."""

    limit: int | None = None
    types: tuple[str, ...] | None = None
    not_types: tuple[str, ...] = ()
    senders: tuple[str, ...] | None = None
    not_senders: tuple[str, ...] = ()

    @classmethod
    def _fields(cls, raw: dict, where: str) -> dict[str, Any]:
        limit = raw.get("limit")
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
            raise _bad(f"{where}limit must be a non-negative integer")
        return {"limit": limit, "types": _str_list(raw, "types", where),
                "not_types": _str_list(raw, "not_types", where) or (),
                "senders": _str_list(raw, "senders", where),
                "not_senders": _str_list(raw, "not_senders", where) or ()}

    @classmethod
    def parse(cls, raw: Any, where: str = "") -> "EventFilter":
        return cls(**cls._fields(_object(raw, where or "filter"), where))

    def allows(self, event_type: str, sender: str | None) -> bool:
        if _any_match(event_type, self.not_types):
            return False
        if self.types is not None and not _any_match(event_type, self.types):
            return False
        if sender is not None:
            if sender in self.not_senders:
                return False
            if self.senders is not None and sender not in self.senders:
                return False
        return True


@dataclass(frozen=True)
class RoomFilter:
    rooms: tuple[str, ...] | None = None
    not_rooms: tuple[str, ...] = ()
    include_leave: bool = False
    timeline: Any = field(default_factory=lambda: RoomEventFilter())
    state: Any = field(default_factory=lambda: RoomEventFilter())
    ephemeral: Any = field(default_factory=lambda: RoomEventFilter())
    account_data: Any = field(default_factory=lambda: RoomEventFilter())

    def allows_room(self, room_id: str) -> bool:
        return room_id not in self.not_rooms and (self.rooms is None or room_id in self.rooms)


@dataclass(frozen=True)
class SyncFilter:
    event_fields: tuple[str, ...] | None = None
    event_format: str = "client"
    presence: EventFilter = field(default_factory=EventFilter)
    account_data: EventFilter = field(default_factory=EventFilter)
    room: RoomFilter = field(default_factory=RoomFilter)

    @property
    def timeline_limit(self) -> int:
        limit = self.room.timeline.limit
        return DEFAULT_TIMELINE_LIMIT if limit is None else min(limit, MAX_LIMIT)

    @property
    def lazy_load_members(self) -> bool:
        return bool(getattr(self.room.state, "lazy_load_members", False))

    @property
    def include_redundant_members(self) -> bool:
        return bool(getattr(self.room.state, "include_redundant_members", False))


def parse_filter(raw: Any) -> SyncFilter:
    """Validate a filter object; `M_BAD_JSON` (400) if it is not one."""
    if not isinstance(raw, dict):
        raise _bad("a filter must be a JSON object")
    event_format = raw.get("event_format", "client")
    if event_format not in ("client", "federation"):
        raise _bad("event_format must be 'client' or 'federation'")
    room_raw = _object(raw.get("room"), "room")
    room = RoomFilter(
        rooms=_str_list(room_raw, "rooms", "room.", room_ids=True),
        not_rooms=_str_list(room_raw, "not_rooms", "room.", room_ids=True) or (),
        include_leave=_bool(room_raw, "include_leave", "room."),
        timeline=RoomEventFilter.parse(room_raw.get("timeline"), "room.timeline."),
        state=RoomEventFilter.parse(room_raw.get("state"), "room.state."),
        ephemeral=RoomEventFilter.parse(room_raw.get("ephemeral"), "room.ephemeral."),
        account_data=RoomEventFilter.parse(room_raw.get("account_data"), "room.account_data."),
    )
    return SyncFilter(
        event_fields=_str_list(raw, "event_fields", ""),
        event_format=event_format,
        presence=EventFilter.parse(raw.get("presence"), "presence."),
        account_data=EventFilter.parse(raw.get("account_data"), "account_data."),
        room=room,
    )


def only_fields(event: dict[str, Any], paths: Iterable[str]) -> dict[str, Any]:
    """`event_fields`: keep the listed dot-separated paths (appendices, "Dot-separated property paths";
    a `\\.` is a literal dot in a key)."""
    out: dict[str, Any] = {}
    for path in paths:
        keys = [k.replace("\\.", ".") for k in re.split(r"(?<!\\)\.", path)]
        src: Any = event
        for k in keys:
            if not isinstance(src, dict) or k not in src:
                break
            src = src[k]
        else:
            dst = out
            for k in keys[:-1]:
                dst = dst.setdefault(k, {})
                if not isinstance(dst, dict):
                    break
            else:
                dst[keys[-1]] = src
    return out
