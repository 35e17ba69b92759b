"""Sync tokens: one position per client-visible stream, as one opaque string.

    s{events}_{typing}_{receipts}_{account_data}_{to_device}_{presence}_{push_rules}_{device_lists}

The `events` field is either a plain position (every writer is at least there) or, when some event
persisters are ahead of the slowest one, Synapse's multi-writer form `m{min}~{id}.{pos}~{id}.{pos}`
(element-hq/synapse `RoomStreamToken`): `min` is the persisted-up-to position and each `id.pos` a writer
that is further on. `id` is the instance's compact number from `stream_instances` (matrix-org/synapse#8439),
so instance names never leak into tokens and may contain any character.

Older tokens with fewer fields parse (missing streams are 0), so adding a stream never invalidates the
tokens clients hold. Anything else that does not match is `M_INVALID_PARAM` (400), never a 500.

Every field here must be a registered, replicated stream (`registry.token_streams()`; a test checks it):
a token key that is never replicated freezes sync loops (element-hq/synapse#20080).
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Mapping

from apps.core.errors import Codes, MatrixError

TOKEN_STREAMS: tuple[str, ...] = ("events", "typing", "receipts", "account_data", "to_device", "presence",
                                  "push_rules", "device_lists")

MAX_TOKEN_LENGTH = 4096
_NUM = r"[0-9]{1,18}"
_PLAIN = re.compile(_NUM)
_MULTI = re.compile(rf"m({_NUM})((?:~{_NUM}\.{_NUM})+)")
_WRITER = re.compile(rf"~({_NUM})\.({_NUM})")


def _invalid(why: str) -> MatrixError:
    return MatrixError(Codes.INVALID_PARAM, f"Invalid stream token: {why}", 400)


@dataclass(frozen=True)
class StreamToken:
    positions: Mapping[str, int] = field(default_factory=dict)
    # Event persisters ahead of positions["events"] (only those; others are at the minimum).
    events_writers: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for s in self.positions:
            if s not in TOKEN_STREAMS:
                raise ValueError(f"{s!r} is not a token stream")
        low = self.positions.get("events", 0)
        object.__setattr__(self, "positions", {s: int(self.positions.get(s, 0)) for s in TOKEN_STREAMS})
        object.__setattr__(self, "events_writers",
                           {w: int(p) for w, p in sorted(self.events_writers.items()) if p > low})

    # -- values ------------------------------------------------------------------------------------------
    def position(self, stream: str) -> int:
        return self.positions[stream]

    def events_position_for(self, instance: str) -> int:
        """How far the token has seen the events written by `instance`."""
        return self.events_writers.get(instance, self.positions["events"])

    @property
    def events_max(self) -> int:
        return max([self.positions["events"], *self.events_writers.values()])

    def since_positions(self) -> dict[str, int]:
        """For `Notifier.wait_for_change`."""
        return dict(self.positions)

    def copy_and_advance(self, stream: str, position: int) -> "StreamToken":
        positions = dict(self.positions)
        positions[stream] = max(positions[stream], position)
        return StreamToken(positions, self.events_writers)

    def is_before_or_eq(self, other: "StreamToken") -> bool:
        if any(self.positions[s] > other.positions[s] for s in TOKEN_STREAMS):
            return False
        writers = set(self.events_writers) | set(other.events_writers)
        return all(self.events_position_for(w) <= other.events_position_for(w) for w in writers)

    @classmethod
    def current(cls, state) -> "StreamToken":
        """The token of everything `state` (a ReplicationState) may read now."""
        positions = {s: state.persisted_up_to(s) for s in TOKEN_STREAMS}
        writers = state.positions("events")
        return cls(positions, {w: p for w, p in writers.items() if p > positions["events"]})

    # -- string form -------------------------------------------------------------------------------------
    def to_string(self) -> str:
        fields = [str(self.positions[s]) for s in TOKEN_STREAMS]
        if self.events_writers:
            ids = sorted((instance_id(w), p) for w, p in self.events_writers.items())
            fields[0] = f"m{self.positions['events']}" + "".join(f"~{i}.{p}" for i, p in ids)
        return "s" + "_".join(fields)

    def __str__(self) -> str:
        return self.to_string()

    @classmethod
    def parse(cls, value: object) -> "StreamToken":
        """Parse a client-supplied token; garbage raises MatrixError(M_INVALID_PARAM, 400)."""
        try:
            return cls._parse(value)
        except MatrixError:
            raise
        except Exception:  # belt and braces: a parser bug must still be a 400, never a 500
            raise _invalid("malformed") from None

    @classmethod
    def _parse(cls, value: object) -> "StreamToken":
        if not isinstance(value, str) or not value.startswith("s"):
            raise _invalid("must start with 's'")
        if len(value) > MAX_TOKEN_LENGTH:
            raise _invalid("too long")
        fields = value[1:].split("_")
        if len(fields) > len(TOKEN_STREAMS):
            raise _invalid("too many fields")
        positions: dict[str, int] = {}
        writers: dict[str, int] = {}
        for stream, f in zip(TOKEN_STREAMS, fields):
            if _PLAIN.fullmatch(f):
                positions[stream] = int(f)
                continue
            m = _MULTI.fullmatch(f) if stream == "events" else None
            if m is None:
                raise _invalid(f"bad {stream} position")
            positions[stream] = int(m.group(1))
            for i, p in _WRITER.findall(m.group(2)):
                name = instance_name(int(i))
                if name is None:
                    raise _invalid("unknown writer")
                if name in writers:
                    raise _invalid("writer listed twice")
                writers[name] = int(p)
        return cls(positions, writers)


# -- compact instance ids ---------------------------------------------------------------------------------
_ids_lock = threading.Lock()
_ids: dict[str, int] = {}
_names: dict[int, str] = {}


def _remember(name: str, id_: int) -> None:
    _ids[name] = id_
    _names[id_] = name


def instance_id(name: str) -> int:
    """The compact id of an instance name (created on first use; ids never change)."""
    with _ids_lock:
        if name in _ids:
            return _ids[name]
    from .stores import get_or_create_instance_id
    id_ = get_or_create_instance_id(name)
    with _ids_lock:
        _remember(name, id_)
    return id_


def instance_name(id_: int) -> str | None:
    with _ids_lock:
        if id_ in _names:
            return _names[id_]
    from .stores import instance_ids
    known = instance_ids()
    with _ids_lock:
        for n, i in known.items():
            _remember(n, i)
        return _names.get(id_)


def _forget_instance_ids_for_tests() -> None:
    with _ids_lock:
        _ids.clear()
        _names.clear()
