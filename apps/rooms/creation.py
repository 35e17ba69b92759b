"""Building events this server sends: prev events from the forward extremities, depth, auth events
from the state before, the PDU of the room version, its hashes and signature; then the pipeline.

Creation is separate from persistence: `create_local_event` ends in `pipeline.process_local_event`,
which hands the checked event to the room's persister (`persister.send_to_persister`).
"""
from __future__ import annotations

import secrets
import string
import time
from typing import Any

from django.conf import settings

from apps.core.errors import Codes, MatrixError

from . import pipeline, stores
from .auth_rules import auth_types_for_event
from .event_signing import sign_event
from .events import Event, InternalMetadata
from .persister import EventContext
from .room_versions import RoomVersion, get_room_version

_ID_ALPHABET = string.ascii_letters
# Spec (appendices, canonical JSON from v6; components/depth_v6.yaml): depth stays a safe integer.
MAX_DEPTH = 2**53 - 1


def _now_ms() -> int:
    return int(time.time() * 1000)


def new_room_id() -> str:
    """A room ID for versions 1-11 (`!opaque:server`); v12 derives it from the create event."""
    return "!" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(18)) + ":" + settings.HS.server_name


def _v1_event_id() -> str:
    return "$" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(18)) + ":" + settings.HS.server_name


def _refs(ids: list[str], rv: RoomVersion, events: dict[str, Event]) -> list:
    # v1/v2 reference events as [event_id, {"sha256": content hash}].
    if rv.event_format != 1:
        return list(ids)
    return [[i, {"sha256": events[i].hashes.get("sha256", "")}] for i in ids]


def build_event(*, rv: RoomVersion, room_id: str | None, sender: str, event_dict: dict[str, Any],
                prev_ids: list[str], depth: int, context: EventContext, txn_id: str | None = None,
                device_id: str | None = None, origin_server_ts: int | None = None) -> Event:
    """The signed event for `event_dict` (`type`, `content`, optional `state_key`)."""
    pdu: dict[str, Any] = {
        "type": event_dict["type"],
        "content": event_dict.get("content", {}),
        "sender": sender,
        "origin_server_ts": origin_server_ts if origin_server_ts is not None else _now_ms(),
        "depth": depth,
        "prev_events": [],
        "auth_events": [],
    }
    if "state_key" in event_dict:
        pdu["state_key"] = event_dict["state_key"]
    if "redacts" in event_dict and not rv.updated_redaction_rules:
        pdu["redacts"] = event_dict["redacts"]
    is_create = pdu["type"] == "m.room.create" and pdu.get("state_key") == ""
    if not (is_create and rv.room_id_from_create_event):
        pdu["room_id"] = room_id
    if rv.event_format == 1:
        pdu["event_id"] = _v1_event_id()

    # Auth events: the auth events selection over the state before the event.
    auth_ids: list[str] = []
    if not is_create:
        probe = Event(pdu, rv)
        for key in auth_types_for_event(probe):
            eid = context.state_before.get(key)
            if eid is not None and eid not in auth_ids:
                auth_ids.append(eid)
    ref_events = stores.get_events(prev_ids + auth_ids) if rv.event_format == 1 else {}
    pdu["prev_events"] = _refs(prev_ids, rv, ref_events)
    pdu["auth_events"] = _refs(auth_ids, rv, ref_events)

    sign_event(pdu, rv)
    return Event(pdu, rv, internal=InternalMetadata(txn_id=txn_id, device_id=device_id))


def _check_suspended_may_send(sender: str, room_id: str | None, event_dict: dict[str, Any]) -> None:
    """Spec (client-server API, "Account suspension"): a suspended account may leave rooms, reject
    invites and redact its own events; anything else it would send is 403 M_USER_SUSPENDED."""
    from apps.accounts.auth import suspended

    etype, content = event_dict.get("type"), event_dict.get("content") or {}
    if etype == "m.room.member" and event_dict.get("state_key") == sender and content.get("membership") == "leave":
        return
    if etype == "m.room.redaction":
        redacts = event_dict.get("redacts") or content.get("redacts")
        target = stores.get_event(redacts) if isinstance(redacts, str) else None
        if target is not None and target.sender == sender and target.room_id == room_id:
            return
    raise suspended()


def create_local_event(requester: Any, room_id: str | None, event_dict: dict[str, Any], txn_id: str | None = None,
                       *, room_version: RoomVersion | None = None) -> tuple[Event, int | None]:
    """Build, check and persist an event sent by `requester` (a `Requester`, or a user ID string).

    For `m.room.create`, `room_id` is None in v12 (the room is named after the event) and
    `room_version` says which version to create. Returns the event and its stream position."""
    sender = requester if isinstance(requester, str) else requester.user_id
    if not isinstance(requester, str) and getattr(getattr(requester, "user", None), "suspended", False):
        _check_suspended_may_send(sender, room_id, event_dict)
    if event_dict.get("type") == "m.room.canonical_alias" and event_dict.get("state_key") == "" and room_id:
        from .aliases import check_canonical_alias

        check_canonical_alias(room_id, event_dict.get("content"))  # 400 M_BAD_ALIAS / M_INVALID_PARAM
    device_id = None if isinstance(requester, str) else requester.device_id
    is_create = event_dict.get("type") == "m.room.create" and event_dict.get("state_key") == ""
    if is_create:
        rv = room_version or get_room_version(settings.HS.default_room_version)
        if room_id is None and not rv.room_id_from_create_event:
            room_id = new_room_id()
        prev_ids: list[str] = []
        depth = 1
        context = EventContext()
    else:
        room = stores.get_room(room_id) if room_id else None
        if room is None:
            raise MatrixError(Codes.NOT_FOUND, "Unknown room", 404)
        rv = get_room_version(room.room_version)
        extremities = stores.forward_extremities(room_id)
        if not extremities:
            raise MatrixError(Codes.UNKNOWN, "The room has no forward extremities", 500)
        prev_ids = [eid for eid, _ in extremities]
        depth = min(max(d for _, d in extremities) + 1, MAX_DEPTH)
        context = pipeline.context_after(room_id, rv, prev_ids, local=True)
    event = build_event(rv=rv, room_id=room_id, sender=sender, event_dict=event_dict, prev_ids=prev_ids,
                        depth=depth, context=context, txn_id=txn_id if device_id else None, device_id=device_id,
                        # An application service's `?ts=` (application-service API, "Timestamp massaging").
                        origin_server_ts=getattr(requester, "origin_server_ts", None))
    position = pipeline.process_local_event(event, context)
    return event, position
