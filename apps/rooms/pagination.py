"""Room pagination tokens (`/messages`, `/context`): a position between two events of one room's timeline.

    t<depth>-<stream>   topological: just after the event at (depth, stream_ordering) in the room's
                        (depth, stream_ordering) order; what /messages and /context hand out.
    s<stream>...        a stream position: every event with stream_ordering <= stream. Any sync token
                        (`StreamToken`, `s1_2_3...` or the multi-writer `m...` events field) is accepted:
                        its `events` position for the room's writer is used, so /sync's prev_batch works.

Tokens are opaque to clients; anything that does not parse is 400 M_INVALID_PARAM, never a 500.

Order and conditions (Synapse's topological tokens, element-hq/synapse `synapse/storage/databases/main/
stream.py` `generate_pagination_where_clause`): the key of an event is (depth, stream_ordering), unique
because stream orderings are. Going backwards from a token T yields events with key <= T, newest
first; going forwards yields events with key > T, oldest first. The token before an event E (to
continue backwards past it) is (E.depth, E.stream - 1); the token after it is (E.depth, E.stream).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from django.db.models import Q

from apps.core.errors import Codes, MatrixError

MAX_TOKEN_LENGTH = 4096
_TOPO = re.compile(r"t(-?[0-9]{1,18})-(-?[0-9]{1,18})")


def _invalid(why: str) -> MatrixError:
    return MatrixError(Codes.INVALID_PARAM, f"Invalid pagination token: {why}", 400)


@dataclass(frozen=True)
class RoomToken:
    stream: int
    depth: int | None = None  # None: a stream token

    @property
    def is_topological(self) -> bool:
        return self.depth is not None

    @classmethod
    def before(cls, depth: int, stream: int) -> "RoomToken":
        """The position just before the event at (depth, stream)."""
        return cls(stream - 1, depth)

    @classmethod
    def after(cls, depth: int, stream: int) -> "RoomToken":
        return cls(stream, depth)

    def to_string(self) -> str:
        return f"t{self.depth}-{self.stream}" if self.depth is not None else f"s{self.stream}"

    __str__ = to_string

    @classmethod
    def parse(cls, value: object, *, writer: str | None = None) -> "RoomToken":
        """Parse a client's token; `writer` is the room's event persister (for multi-writer sync tokens)."""
        if not isinstance(value, str) or not value:
            raise _invalid("empty")
        if len(value) > MAX_TOKEN_LENGTH:
            raise _invalid("too long")
        if value[0] == "t":
            m = _TOPO.fullmatch(value)
            if m is None:
                raise _invalid("malformed")
            return cls(int(m.group(2)), int(m.group(1)))
        from apps.streams.tokens import StreamToken

        try:
            token = StreamToken.parse(value)
        except MatrixError:
            raise _invalid("malformed") from None
        return cls(token.events_position_for(writer) if writer else token.positions["events"])

    # --- conditions over `EventRow` (fields depth, stream_ordering) -----------------------------------
    def q_at_or_before(self) -> Q:
        """Events at or before the token (what paginating backwards from it may return)."""
        if self.depth is None:
            return Q(stream_ordering__lte=self.stream)
        return Q(depth__lt=self.depth) | Q(depth=self.depth, stream_ordering__lte=self.stream)

    def q_after(self) -> Q:
        """Events after the token (what paginating forwards from it may return)."""
        if self.depth is None:
            return Q(stream_ordering__gt=self.stream)
        return Q(depth__gt=self.depth) | Q(depth=self.depth, stream_ordering__gt=self.stream)

    def q_from(self, direction: str) -> Q:
        return self.q_at_or_before() if direction == "b" else self.q_after()

    def q_to(self, direction: str) -> Q:
        """The `to` bound: paginating backwards stops after reaching the token, forwards at it."""
        return self.q_after() if direction == "b" else self.q_at_or_before()


def parse_direction(raw: object, *, required: bool = True) -> str:
    if raw is None:
        if required:
            raise MatrixError(Codes.MISSING_PARAM, "Missing parameter: dir", 400)
        return "b"
    if raw not in ("b", "f"):
        raise MatrixError(Codes.INVALID_PARAM, "dir must be 'b' or 'f'", 400)
    return raw  # type: ignore[return-value]
