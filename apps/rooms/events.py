"""The event object every part of the room code shares: a PDU (the JSON as federation carries it)
read through its room version.

An `Event` is immutable once built. `event_id` is the PDU's own field in v1/v2 and the reference hash
(`apps.rooms.hashing`) from v3 on; in v12 the create event's `room_id` is derived from its own hash.
Per-server facts that are not part of the PDU (rejection, soft-failure, outlier, the sending device's
transaction id) live in `internal`, never in the signed JSON.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .room_versions import RoomVersion

StateKey = tuple[str, str]  # (event type, state_key)


@dataclass
class InternalMetadata:
    outlier: bool = False
    soft_failed: bool = False
    rejected_reason: str | None = None
    txn_id: str | None = None
    device_id: str | None = None
    stream_ordering: int | None = None
    # An invite (or knock) to a room this server is not in, received over federation: an outlier that
    # still takes a stream position and sets the user's membership (apps.federation.membership).
    out_of_band_membership: bool = False


class Event:
    __slots__ = ("pdu", "room_version", "unsigned", "internal", "__dict__")

    def __init__(self, pdu: dict[str, Any], room_version: RoomVersion, *, unsigned: dict | None = None,
                 internal: InternalMetadata | None = None):
        # `unsigned` is not covered by hashes or signatures; keep it apart from the signed PDU.
        pdu = dict(pdu)
        pdu_unsigned = pdu.pop("unsigned", None)
        self.pdu = pdu
        self.room_version = room_version
        self.unsigned = dict(unsigned if unsigned is not None else (pdu_unsigned or {}))
        self.internal = internal or InternalMetadata()

    # --- identity -------------------------------------------------------------------------------
    @cached_property
    def event_id(self) -> str:
        if self.room_version.event_format == 1:
            return self.pdu["event_id"]
        from .hashing import compute_event_id

        return compute_event_id(self.pdu, self.room_version)

    @cached_property
    def room_id(self) -> str:
        if self.room_version.room_id_from_create_event and self.type == "m.room.create" and self.state_key == "":
            # v12: the create event names no room; the room is named after the create event.
            return "!" + self.event_id[1:]
        return self.pdu["room_id"]

    # --- fields ---------------------------------------------------------------------------------
    @property
    def type(self) -> str:
        return self.pdu["type"]

    @property
    def state_key(self) -> str | None:
        return self.pdu.get("state_key")

    @property
    def sender(self) -> str:
        return self.pdu["sender"]

    @property
    def content(self) -> dict[str, Any]:
        return self.pdu.get("content", {})

    @property
    def depth(self) -> int:
        return self.pdu.get("depth", 0)

    @property
    def origin_server_ts(self) -> int:
        return self.pdu.get("origin_server_ts", 0)

    @property
    def redacts(self) -> str | None:
        # v11 moved `redacts` into content; earlier versions have it at the top level.
        if self.room_version.updated_redaction_rules:
            return self.content.get("redacts") if isinstance(self.content.get("redacts"), str) else None
        return self.pdu.get("redacts")

    @property
    def prev_event_ids(self) -> list[str]:
        return _ids(self.pdu.get("prev_events", []), self.room_version)

    @property
    def auth_event_ids(self) -> list[str]:
        return _ids(self.pdu.get("auth_events", []), self.room_version)

    @property
    def signatures(self) -> dict[str, dict[str, str]]:
        return self.pdu.get("signatures", {})

    @property
    def hashes(self) -> dict[str, str]:
        return self.pdu.get("hashes", {})

    def is_state(self) -> bool:
        return "state_key" in self.pdu

    @property
    def state_pair(self) -> StateKey | None:
        return (self.type, self.state_key) if self.is_state() else None

    @property
    def membership(self) -> str | None:
        m = self.content.get("membership") if self.type == "m.room.member" else None
        return m if isinstance(m, str) else None

    @property
    def rejected(self) -> bool:
        return self.internal.rejected_reason is not None

    # --- serialisation --------------------------------------------------------------------------
    def get_pdu_json(self) -> dict[str, Any]:
        """The PDU as sent to other servers (no `unsigned` server-local data but `age_ts`-free)."""
        return dict(self.pdu)

    def __repr__(self) -> str:
        sk = f" state_key={self.state_key!r}" if self.is_state() else ""
        return f"<Event {self.event_id} {self.type}{sk} sender={self.sender}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Event) and other.event_id == self.event_id

    def __hash__(self) -> int:
        return hash(self.event_id)


def _ids(raw: list, rv: RoomVersion) -> list[str]:
    # v1/v2 reference events as [event_id, {hashes}] pairs; v3+ as plain event IDs.
    if rv.event_format == 1:
        return [r[0] for r in raw if isinstance(r, list) and r]
    return [r for r in raw if isinstance(r, str)]
