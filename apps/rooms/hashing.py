"""Content hashes, reference hashes, and the event and room IDs derived from them.

* The content hash covers the whole event, unredacted content included, minus `unsigned`,
  `signatures` and `hashes`; it goes into `hashes.sha256` before signing, so a redacted copy is
  detectable (server-server API, "Calculating the content hash for an event").
* The reference hash covers the redacted event minus `signatures` and `unsigned`; from v3 on it is
  the event ID (server-server API, "Calculating the reference hash for an event";
  rooms/v3.md and fragments/v4-event-ids.md), and in v12 the create event's reference hash also
  names the room (appendices, "Room IDs").
"""
from __future__ import annotations

import binascii
import hashlib
from collections.abc import Mapping
from typing import Any

from canonicaljson import encode_canonical_json
from unpaddedbase64 import decode_base64, encode_base64

from .redaction import prune_event_dict
from .room_versions import RoomVersion


def compute_content_hash(pdu: Mapping[str, Any]) -> bytes:
    """SHA-256 of the canonical JSON of `pdu` without `unsigned`, `signatures` and `hashes`."""
    stripped = {k: v for k, v in pdu.items() if k not in ("unsigned", "signatures", "hashes")}
    return hashlib.sha256(encode_canonical_json(stripped)).digest()


def add_content_hash(pdu: dict[str, Any]) -> dict[str, Any]:
    """Sets `hashes.sha256` of `pdu` (in place; other hash algorithms kept) and returns `pdu`."""
    hashes = pdu.get("hashes")
    hashes = dict(hashes) if isinstance(hashes, Mapping) else {}
    hashes["sha256"] = encode_base64(compute_content_hash(pdu))
    pdu["hashes"] = hashes
    return pdu


def check_content_hash(pdu: Mapping[str, Any]) -> bool:
    """Whether `hashes.sha256` matches the content. False for a missing or malformed hash: the
    caller then uses the redacted copy of the event (server-server API, "Validating hashes...")."""
    hashes = pdu.get("hashes")
    claimed = hashes.get("sha256") if isinstance(hashes, Mapping) else None
    if not isinstance(claimed, str):
        return False
    try:
        claimed_bytes = decode_base64(claimed)
    except (ValueError, binascii.Error):
        return False
    return claimed_bytes == compute_content_hash(pdu)


def compute_reference_hash(pdu: Mapping[str, Any], rv: RoomVersion) -> bytes:
    """SHA-256 of the canonical JSON of the redacted event without `signatures` and `unsigned`.

    The redaction algorithm already drops `unsigned` (and the legacy top-level `age_ts` Synapse
    removes explicitly), as neither is in any version's list of kept keys."""
    pruned = prune_event_dict(rv, pdu)
    pruned.pop("signatures", None)
    pruned.pop("unsigned", None)
    return hashlib.sha256(encode_canonical_json(pruned)).digest()


def compute_event_id(pdu: Mapping[str, Any], rv: RoomVersion) -> str:
    """The event ID of `pdu` in a v3+ room: `$` + the reference hash in unpadded base64, standard
    alphabet in v3, URL-safe from v4. v1/v2 events carry their ID in `event_id`: ValueError."""
    if rv.event_format == 1:
        raise ValueError(f"room version {rv.identifier} events carry their own event_id")
    return "$" + encode_base64(compute_reference_hash(pdu, rv), urlsafe=rv.event_format >= 3)


def room_id_for_create_event(pdu: Mapping[str, Any], rv: RoomVersion) -> str:
    """The room ID a v12+ `m.room.create` event names: its event ID with `!` for `$`
    (`!` + URL-safe unpadded base64 of its reference hash)."""
    if not rv.room_id_from_create_event:
        raise ValueError(f"room version {rv.identifier} does not derive room IDs from the create event")
    return "!" + encode_base64(compute_reference_hash(pdu, rv), urlsafe=True)
