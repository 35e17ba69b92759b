"""RoomEventFilter (client-server API, "Filtering"; data/api/client-server/definitions/room_event_filter.yaml
and event_filter.yaml): parsing, validation and application. A pure module (no database), used by
`/messages`, `/context` and `/sync` (`apps.sync.filters` picks it up).

    limit                       non-negative integer (the caller applies its default and cap)
    types / not_types           event types; `*` matches any sequence of characters; not_types wins
    senders / not_senders       user IDs; not_senders wins
    rooms / not_rooms           room IDs; not_rooms wins
    contains_url                True: only events whose content has a string `url`; False: only those without
    lazy_load_members           the caller sends only the members of the returned events' senders
    include_redundant_members   (with lazy_load_members) send them even if already sent
    unread_thread_notifications /sync only

An absent or null key means "no constraint". A wrong type is `M_BAD_JSON` (400); unknown keys are
ignored (newer clients send newer filters). `parse_filter_param` reads the JSON of a `filter=` query
parameter: invalid JSON is `M_NOT_JSON` (400).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable

from apps.core.errors import Codes, MatrixError


def _bad(msg: str) -> MatrixError:
    return MatrixError(Codes.BAD_JSON, f"Invalid filter: {msg}", 400)


def _object(raw: Any, where: str) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _bad(f"{where or 'filter'} must be an object")
    return raw


def _str_list(raw: dict, key: str, where: str, *, prefix: str | None = None) -> tuple[str, ...] | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(f"{where}{key} must be a list of strings")
    if prefix is not None and not all(v.startswith(prefix) for v in value):
        raise _bad(f"{where}{key} must be a list of IDs starting with {prefix!r}")
    return tuple(value)


def _bool(raw: dict, key: str, where: str) -> bool | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise _bad(f"{where}{key} must be a boolean")
    return value


@lru_cache(maxsize=1024)
def _glob(pattern: str) -> re.Pattern:
    # Spec: "A '*' can be used as a wildcard to match any sequence of characters."
    return re.compile(".*".join(re.escape(p) for p in pattern.split("*")), re.DOTALL)


def _any_match(value: str, patterns: Iterable[str]) -> bool:
    return any(_glob(p).fullmatch(value) for p in patterns)


@dataclass(frozen=True)
class RoomEventFilter:
    limit: int | None = None
    types: tuple[str, ...] | None = None
    not_types: tuple[str, ...] = ()
    senders: tuple[str, ...] | None = None
    not_senders: tuple[str, ...] = ()
    rooms: tuple[str, ...] | None = None
    not_rooms: tuple[str, ...] = ()
    contains_url: bool | None = None
    lazy_load_members: bool = False
    include_redundant_members: bool = False
    unread_thread_notifications: bool = False

    # --- parsing ---------------------------------------------------------------------------------------
    @classmethod
    def parse(cls, raw: Any, where: str = "") -> "RoomEventFilter":
        """Validate a RoomEventFilter object (None: the empty filter). `where` prefixes error
        messages (`room.timeline.`)."""
        raw = _object(raw, where.rstrip("."))
        limit = raw.get("limit")
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
            raise _bad(f"{where}limit must be a non-negative integer")
        return cls(
            limit=limit,
            types=_str_list(raw, "types", where),
            not_types=_str_list(raw, "not_types", where) or (),
            senders=_str_list(raw, "senders", where),
            not_senders=_str_list(raw, "not_senders", where) or (),
            rooms=_str_list(raw, "rooms", where, prefix="!"),
            not_rooms=_str_list(raw, "not_rooms", where, prefix="!") or (),
            contains_url=_bool(raw, "contains_url", where),
            lazy_load_members=bool(_bool(raw, "lazy_load_members", where)),
            include_redundant_members=bool(_bool(raw, "include_redundant_members", where)),
            unread_thread_notifications=bool(_bool(raw, "unread_thread_notifications", where)),
        )

    # --- application -----------------------------------------------------------------------------------
    def allows_room(self, room_id: str) -> bool:
        return room_id not in self.not_rooms and (self.rooms is None or room_id in self.rooms)

    def allows(self, event_type: str, sender: str | None) -> bool:
        """types / not_types / senders / not_senders (EventFilter's part)."""
        if self.not_types and _any_match(event_type, self.not_types):
            return False
        if self.types is not None and not _any_match(event_type, self.types):
            return False
        if sender is not None:
            if sender in self.not_senders:
                return False
            if self.senders is not None and sender not in self.senders:
                return False
        return True

    def allows_event(self, event: Any) -> bool:
        """Whether an `Event` (or anything with type, sender, content, room_id) passes the filter."""
        if not self.allows(event.type, event.sender):
            return False
        room_id = getattr(event, "room_id", None)
        if room_id is not None and not self.allows_room(room_id):
            return False
        if self.contains_url is not None:
            content = event.content if isinstance(event.content, dict) else {}
            if isinstance(content.get("url"), str) != self.contains_url:
                return False
        return True

    def filter_events(self, events: Iterable[Any]) -> list[Any]:
        return [e for e in events if self.allows_event(e)]

    # --- what a store may push down into SQL (the Python check stays the truth) ------------------------
    @property
    def exact_types(self) -> tuple[str, ...] | None:
        """`types` when none has a wildcard (an SQL `IN`), else None."""
        if self.types is None or any("*" in t for t in self.types):
            return None
        return self.types

    @property
    def exact_not_types(self) -> tuple[str, ...]:
        return tuple(t for t in self.not_types if "*" not in t)

    @property
    def is_empty(self) -> bool:
        return self == RoomEventFilter(limit=self.limit, lazy_load_members=self.lazy_load_members,
                                       include_redundant_members=self.include_redundant_members,
                                       unread_thread_notifications=self.unread_thread_notifications)


def parse_filter_param(raw: str | None) -> RoomEventFilter:
    """The `filter` query parameter of /messages and /context: a JSON RoomEventFilter."""
    if raw is None or raw == "":
        return RoomEventFilter()
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        raise MatrixError(Codes.NOT_JSON, "filter must be a JSON RoomEventFilter", 400) from None
    if not isinstance(value, dict):
        raise _bad("filter must be a JSON object")
    return RoomEventFilter.parse(value)
