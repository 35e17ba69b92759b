"""Is this JSON a valid PDU of its room version? The first check every received event passes
(server-server API, "Checks performed on receipt of a PDU", step 1: an invalid event is dropped),
and the last one an event we build passes before it is signed.

Sources:
  * schemas: data/api/server-server/definitions/pdu_v1.yaml (v1, v2), pdu_v3.yaml, pdu_v4.yaml
    (v4, v5), pdu_v6.yaml (v6-v10), pdu_v11.yaml, pdu_v12.yaml and components/*.yaml;
  * sizes: client-server API, "Size limits" (65536 bytes of canonical JSON for the whole event;
    255 bytes for `sender`, `room_id`, `type`, `state_key`, `event_id`); at most 20 `prev_events`
    and 10 `auth_events`;
  * numbers: from v6, the strict canonical JSON of the appendices (integers within
    [-(2**53)+1, 2**53-1], no floats), fragments/v6-canonical-json.md; `depth` at most 2**63-1
    before v6 and 2**53-1 from v6 (components/depth_v6.yaml).

What the auth rules decide (a v12 create event that names a `room_id`, a member event without
`membership`, ...) is left to them: a format failure drops an event, an auth failure rejects it.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from canonicaljson import encode_canonical_json

from apps.core.errors import Codes, MatrixError
from apps.core.ids import UserID

from .room_versions import RoomVersion

MAX_PDU_SIZE = 65536
MAX_ID_SIZE = 255
MAX_PREV_EVENTS = 20
MAX_AUTH_EVENTS = 10
CANONICALJSON_MAX_INT = 2**53 - 1
CANONICALJSON_MIN_INT = -CANONICALJSON_MAX_INT
MAX_DEPTH_V1 = 2**63 - 1


class EventFormatError(MatrixError):
    """The event does not have the format of its room version (M_BAD_JSON for clients; dropped
    over federation).

    `persist_as_rejected` is set when a field is over 255 bytes but not over 255 code points:
    Synapse used to count code points and accepted such events, so (as Synapse now does) they are
    stored as rejected rather than dropped, lest rooms that already hold them break."""

    def __init__(self, reason: str, *, persist_as_rejected: bool = False):
        super().__init__(Codes.BAD_JSON, reason, 400)
        self.reason = reason
        self.persist_as_rejected = persist_as_rejected


def _fail(reason: str) -> None:
    raise EventFormatError(reason)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_strict_json(value: Any, path: str) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if not CANONICALJSON_MIN_INT <= value <= CANONICALJSON_MAX_INT:
            _fail(f"Integer out of the canonical JSON range at {path}")
    elif isinstance(value, float):
        _fail(f"Float values are not allowed at {path}")
    elif isinstance(value, Mapping):
        for k, v in value.items():
            _check_strict_json(v, f"{path}.{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_strict_json(v, f"{path}[{i}]")
    else:
        _fail(f"Value of type {type(value).__name__} is not JSON at {path}")


def _check_size(key: str, value: str) -> None:
    if len(value.encode("utf-8")) > MAX_ID_SIZE:
        raise EventFormatError(f"'{key}' is longer than {MAX_ID_SIZE} bytes",
                               persist_as_rejected=len(value) <= MAX_ID_SIZE)


def _check_event_id(value: Any, key: str, rv: RoomVersion) -> None:
    if not isinstance(value, str) or not value.startswith("$"):
        _fail(f"'{key}' must hold event IDs")
    if rv.event_format == 1 and ":" not in value:
        _fail(f"'{key}': event IDs of room version {rv.identifier} have a domain")
    _check_size(key, value)


def _check_event_refs(pdu: Mapping[str, Any], key: str, limit: int, rv: RoomVersion) -> None:
    refs = pdu[key]
    if not isinstance(refs, list):
        _fail(f"'{key}' must be an array")
    if len(refs) > limit:
        _fail(f"'{key}' has more than {limit} entries")
    for ref in refs:
        if rv.event_format == 1:
            # v1/v2: [event_id, {"sha256": ...}] pairs.
            if not isinstance(ref, list) or len(ref) != 2 or not isinstance(ref[1], Mapping):
                _fail(f"'{key}' entries must be [event_id, hashes] pairs")
            _check_event_id(ref[0], key, rv)
        else:
            _check_event_id(ref, key, rv)


def check_pdu_format(pdu: Any, rv: RoomVersion) -> None:
    """Raises EventFormatError unless `pdu` has the format of a `rv` event."""
    if not isinstance(pdu, Mapping):
        _fail("An event must be a JSON object")

    required = ["type", "sender", "origin_server_ts", "content", "depth", "hashes", "signatures",
                "prev_events", "auth_events"]
    is_v12_create = rv.room_id_from_create_event and pdu.get("type") == "m.room.create"
    if not is_v12_create:  # v12: the create event names no room (components/room_id_v12.yaml)
        required.append("room_id")
    if rv.event_format == 1:
        required.append("event_id")
    for key in required:
        if key not in pdu:
            _fail(f"Missing key '{key}'")

    # Types, sizes and identifiers.
    for key in ("type", "sender"):
        if not isinstance(pdu[key], str):
            _fail(f"'{key}' must be a string")
    _check_size("type", pdu["type"])
    _check_size("sender", pdu["sender"])
    try:
        UserID.parse(pdu["sender"])
    except MatrixError:
        _fail(f"'sender' is not a user ID: {pdu['sender']!r}")

    if "room_id" in pdu:
        room_id = pdu["room_id"]
        if not isinstance(room_id, str) or not room_id.startswith("!") or len(room_id) < 2:
            _fail("'room_id' must be a room ID")
        if not rv.room_id_from_create_event:
            localpart, sep, domain = room_id[1:].partition(":")
            if not sep or not domain:
                _fail(f"'room_id' of room version {rv.identifier} must have a domain")
        _check_size("room_id", room_id)

    if "state_key" in pdu:
        if not isinstance(pdu["state_key"], str):
            _fail("'state_key' must be a string")
        _check_size("state_key", pdu["state_key"])

    if "event_id" in pdu and rv.event_format == 1:
        _check_event_id(pdu["event_id"], "event_id", rv)

    if not _is_int(pdu["origin_server_ts"]):
        _fail("'origin_server_ts' must be an integer")

    depth = pdu["depth"]
    max_depth = CANONICALJSON_MAX_INT if rv.strict_canonicaljson else MAX_DEPTH_V1
    if not _is_int(depth) or depth < 0 or depth > max_depth:
        _fail(f"'depth' must be an integer in [0, {max_depth}]")

    if not isinstance(pdu["content"], Mapping):
        _fail("'content' must be an object")

    hashes = pdu["hashes"]
    if not isinstance(hashes, Mapping) or not isinstance(hashes.get("sha256"), str):
        _fail("'hashes' must be an object with a string 'sha256'")

    signatures = pdu["signatures"]
    if not isinstance(signatures, Mapping) or not all(
            isinstance(sigs, Mapping) and all(isinstance(s, str) for s in sigs.values())
            for sigs in signatures.values()):
        _fail("'signatures' must map server names to objects of strings")

    if "unsigned" in pdu and not isinstance(pdu["unsigned"], Mapping):
        _fail("'unsigned' must be an object")

    if "redacts" in pdu and not rv.updated_redaction_rules and not isinstance(pdu["redacts"], str):
        _fail("'redacts' must be a string")

    _check_event_refs(pdu, "prev_events", MAX_PREV_EVENTS, rv)
    _check_event_refs(pdu, "auth_events", MAX_AUTH_EVENTS, rv)

    # Numbers, then the size of the whole: what would be sent, signatures included.
    if rv.strict_canonicaljson:
        _check_strict_json(pdu, "event")
    try:
        size = len(encode_canonical_json(pdu))
    except (TypeError, ValueError) as e:  # NaN/Infinity, non-JSON values
        raise EventFormatError(f"Event is not encodable as canonical JSON: {e}") from e
    if size > MAX_PDU_SIZE:
        _fail(f"Event is larger than {MAX_PDU_SIZE} bytes")
