"""A local user knocks on a room this server is not in, through a server that is (spec: server-server
API, "Knocking upon a room", makeKnock / sendKnock; client-server API, knockRoom):

    1. candidates: as for a remote join (`remote_join.candidate_servers`): the client's `via` /
       `server_name`, the servers a remote alias's server names, the room ID's server;
    2. `GET /make_knock/{roomId}/{userId}?ver=...` gives a template, checked, completed (profile,
       reason) and signed as a join's is (`remote_join.member_from_template`); a room version without
       knocking (v1-v6) is refused here too;
    3. `PUT /v1/send_knock/{roomId}/{eventId}` answers `knock_room_state`, the room as the knocker may
       see it. The knock is stored as an out-of-band membership (an outlier with a stream position,
       as a remote invite is) carrying that state stripped, which the user's /sync shows under
       `rooms.knock`.

Failures are those of a remote join (`remote_join.through_candidates`): the next candidate is tried;
when all fail the client gets the most telling refusal (403 M_FORBIDDEN, 400
M_INCOMPATIBLE_ROOM_VERSION, 404), else 502 M_UNKNOWN. Rescinding the knock (POST /leave) goes through
`remote_rooms.rescind_knock`.
"""
from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from apps.core.errors import Codes, MatrixError
from apps.rooms.event_format import check_pdu_format
from apps.rooms.event_signing import verify_event_signatures
from apps.rooms.hashing import check_content_hash
from apps.rooms.events import Event, InternalMetadata
from apps.rooms.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion

from . import client, keyring, remote_join, remote_rooms

logger = logging.getLogger(__name__)

_STRIPPED_KEYS = ("type", "state_key", "content", "sender")


def _q(value: str) -> str:
    return quote(value, safe="")


def _stripped(item: dict) -> dict[str, Any]:
    return {k: item[k] for k in _STRIPPED_KEYS}


def knock_room_state(raw: Any, rv: RoomVersion, room_id: str) -> list[dict[str, Any]]:
    """`knock_room_state` as the stripped state a client sees (client-server API, "Stripped state").

    Spec 1.16: the entries are events in the room version's format, signed, and of the room; those that
    are not SHOULD be removed before the client sees them. From v12 on each entry is checked (format,
    room, content hash, signatures) and dropped if it fails; before, servers still send bare stripped events, so only
    the shape is checked. The knock has happened by then: a bad entry never undoes it."""
    out: list[dict[str, Any]] = []
    for item in raw if isinstance(raw, list) else ():
        if not (isinstance(item, dict) and isinstance(item.get("type"), str)
                and isinstance(item.get("state_key"), str) and isinstance(item.get("content"), dict)
                and isinstance(item.get("sender"), str)):
            continue
        if rv.room_id_from_create_event:
            try:
                check_pdu_format(item, rv)
                if Event(item, rv).room_id != room_id:
                    continue
                if not check_content_hash(item):
                    continue  # its redacted copy would show nothing of the room
                verify_event_signatures(item, rv, keyring.key_lookup)
            except (MatrixError, ValueError, TypeError, KeyError) as e:
                logger.info("knock_room_state of %s: dropped a %s entry (%s)", room_id, item["type"], e)
                continue
        elif "room_id" in item and item["room_id"] != room_id:
            continue
        out.append(_stripped(item))
    return out


def _attempt(destination: str, room_id: str, user_id: str, content: dict) -> None:
    made = client.get_json(destination, f"/_matrix/federation/v1/make_knock/{_q(room_id)}/{_q(user_id)}",
                           query={"ver": list(KNOWN_ROOM_VERSIONS)})
    knock = remote_join.member_from_template(made, room_id, user_id, "knock", content)
    rv = knock.room_version
    if not rv.knock_join_rule:
        raise MatrixError(Codes.FORBIDDEN, f"Room version {rv.identifier} does not support knocking", 403)
    data = client.put_json(destination, f"/_matrix/federation/v1/send_knock/{_q(room_id)}/{_q(knock.event_id)}",
                           knock.get_pdu_json())
    raw_state = data.get("knock_room_state") if isinstance(data, dict) else None
    if not isinstance(raw_state, list):
        # The resident server took the knock: it stands, without a view of the room to show.
        logger.warning("send_knock of %s through %s answered no knock_room_state", room_id, destination)
    stored = Event(knock.pdu, rv, unsigned={"knock_room_state": knock_room_state(raw_state, rv, room_id)},
                   internal=InternalMetadata(outlier=True, out_of_band_membership=True))
    remote_rooms.store_out_of_band(stored)


def knock_remote(user_id: str, room_id: str, hints: list[str] = (), content: dict | None = None) -> str:
    """Knocks for `user_id` on a room this server is not in, with `content` (profile, reason) besides
    the membership; returns the room ID."""
    hints = [h for h in hints if isinstance(h, str) and h]
    candidates = remote_join.candidate_servers(room_id, user_id, hints)
    remote_join.through_candidates("knock on", room_id, candidates,
                                   lambda destination: _attempt(destination, room_id, user_id, content or {}))
    return room_id
