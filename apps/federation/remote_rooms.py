"""Memberships of local users in rooms this server is not in, handshaken with a resident server.

    reject_invite(user_id, room_id, reason)    POST /rooms/{roomId}/leave on an invite received over
                                                federation (spec: server-server API, "Leaving Rooms
                                                (Rejecting Invites)")

The inviting server is asked for a leave template (`GET /make_leave`), the template is checked (type,
room, sender, state_key, membership), completed, signed and sent back (`PUT /v2/send_leave`). The
leave is then stored as the invite was: an out-of-band membership (an outlier with a stream position),
so the invitee's /sync moves the room from `invite` to `leave`.

When the inviting server cannot be reached or refuses, the invite is rejected locally only: a leave
signed by us, following the invite, is stored the same way and sent nowhere. The user is rid of the
invite; the inviting room still lists them as invited (what Synapse does too).

    rescind_knock(user_id, room_id, reason)    POST /rooms/{roomId}/leave on a knock made over federation
                                                (apps.federation.remote_knock; spec: "Knocking upon a
                                                room": knocks are retracted as invites are rejected)

The same handshake, through a server in the room when we knocked: those of the users who set the room
state the knock was answered with (`knock_room_state`), then the room ID's server. When none answers,
the knock is rescinded locally only, as an invite is rejected.

    leave_through_resident(user_id, room_id, reason)   POST /rooms/{roomId}/leave by the last user of
                                                       this server in a room joined over federation

The leave is made with a server still in the room (make_leave / send_leave, as above), since once
it is stored this server has no one left there to send it from. The event goes through the pipeline
with our current state as the state before it (its prev events are the resident's). When no server
in the room can be reached, the caller leaves locally.
"""
from __future__ import annotations

import logging
import secrets
import time
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import transaction

from apps.core.errors import Codes, MatrixError
from apps.core.ids import server_name_of
from apps.rooms import pipeline, state_store
from apps.rooms import stores as room_stores
from apps.rooms.event_signing import sign_event
from apps.rooms.events import Event
from apps.rooms.persister import EventContext, send_to_persister
from apps.rooms.room_versions import RoomVersion, get_room_version

from . import client, keyring, stores

logger = logging.getLogger(__name__)


def _q(value: str) -> str:
    return quote(value, safe="")


def _now_ms() -> int:
    return int(time.time() * 1000)


def _v1_event_id() -> str:
    return f"${secrets.token_hex(9)}:{settings.HS.server_name}"


def store_out_of_band(event: Event) -> None:
    """Stores a membership of a room this server is not in (an invite, a knock, their leave): an outlier
    with a stream position, which the user's /sync shows."""
    event.internal.outlier = True
    event.internal.out_of_band_membership = True
    with transaction.atomic():
        send_to_persister(event.room_id, event, EventContext())


def _leave_from_template(template: Any, room_id: str, user_id: str, rv: RoomVersion, reason: str | None) -> Event:
    if not isinstance(template, dict):
        raise ValueError("make_leave answered no event template")
    expected = {"type": "m.room.member", "room_id": room_id, "sender": user_id, "state_key": user_id}
    for key, value in expected.items():
        if template.get(key) != value:
            raise ValueError(f"make_leave template has the wrong {key}")
    content = template.get("content")
    if not isinstance(content, dict) or content.get("membership") != "leave":
        raise ValueError("make_leave template is not a leave")
    pdu = {k: v for k, v in template.items() if k not in ("signatures", "hashes", "unsigned", "event_id")}
    pdu["content"] = {"membership": "leave", **({"reason": reason} if reason is not None else {})}
    pdu["origin_server_ts"] = _now_ms()
    pdu["origin"] = settings.HS.server_name
    if rv.event_format == 1:
        pdu["event_id"] = _v1_event_id()
    return Event(sign_event(pdu, rv), rv)


def _remote_reject(destination: str, room_id: str, user_id: str, rv_id: str, reason: str | None) -> Event:
    made = client.get_json(destination, f"/_matrix/federation/v1/make_leave/{_q(room_id)}/{_q(user_id)}")
    if not isinstance(made, dict):
        raise ValueError("make_leave answered no object")
    if made.get("room_version", rv_id) != rv_id:
        raise ValueError("make_leave names another room version")
    rv = get_room_version(rv_id)
    event = _leave_from_template(made.get("event"), room_id, user_id, rv, reason)
    client.put_json(destination, f"/_matrix/federation/v2/send_leave/{_q(room_id)}/{_q(event.event_id)}",
                    event.get_pdu_json())
    return event


def _local_leave(invite: Event, reason: str | None) -> Event:
    """A leave following `invite` (or a knock), signed by us, for a membership no other server confirmed."""
    rv = invite.room_version
    pdu: dict[str, Any] = {
        "type": "m.room.member", "room_id": invite.room_id, "sender": invite.state_key,
        "state_key": invite.state_key,
        "content": {"membership": "leave", **({"reason": reason} if reason is not None else {})},
        "origin_server_ts": _now_ms(), "depth": invite.depth + 1,
        "prev_events": [invite.event_id] if rv.event_format != 1 else [[invite.event_id, invite.hashes]],
        "auth_events": [invite.event_id] if rv.event_format != 1 else [[invite.event_id, invite.hashes]],
    }
    if rv.event_format == 1:
        pdu["event_id"] = _v1_event_id()
    return Event(sign_event(pdu, rv), rv)


def reject_invite(user_id: str, room_id: str, reason: str | None = None) -> str:
    """Rejects the out-of-band invite of `user_id` to `room_id`; the leave event's ID."""
    current = room_stores.membership_of(room_id, user_id)
    invite = room_stores.get_event(current[1]) if current is not None and current[0] == "invite" else None
    if invite is None:
        raise MatrixError(Codes.FORBIDDEN, "You are not invited to this room", 403)
    destination = server_name_of(invite.sender)
    try:
        event = _remote_reject(destination, room_id, user_id, invite.room_version.identifier, reason)
    except (client.FederationError, ValueError, MatrixError) as e:
        logger.info("Rejecting the invite of %s to %s through %s failed (%s): rejecting it locally",
                    user_id, room_id, destination, e)
        event = _local_leave(invite, reason)
    store_out_of_band(event)
    return event.event_id


def _knock_servers(knock: Event) -> list[str]:
    """Servers to rescind a knock through: those of the senders of the `knock_room_state` we were
    answered with (in the room then), then the room ID's server (v1-v11 IDs name one)."""
    state = knock.unsigned.get("knock_room_state")
    servers = [server_name_of(s["sender"]) for s in (state if isinstance(state, list) else ())
               if isinstance(s, dict) and isinstance(s.get("sender"), str)]
    servers.append(server_name_of(knock.room_id))
    me = settings.HS.server_name
    return [s for s in dict.fromkeys(servers) if s and s != me]


def rescind_knock(user_id: str, room_id: str, reason: str | None = None) -> str:
    """Rescinds the knock of `user_id` on a room this server is not in; the leave event's ID."""
    current = room_stores.membership_of(room_id, user_id)
    knock = room_stores.get_event(current[1]) if current is not None and current[0] == "knock" else None
    if knock is None:
        raise MatrixError(Codes.FORBIDDEN, "You have not knocked on this room", 403)
    for destination in _knock_servers(knock):
        try:
            event = _remote_reject(destination, room_id, user_id, knock.room_version.identifier, reason)
            break
        except (client.FederationError, ValueError, MatrixError) as e:
            logger.info("Rescinding the knock of %s on %s through %s failed: %s", user_id, room_id, destination, e)
    else:
        logger.info("No server took the rescinding of the knock of %s on %s: rescinded locally", user_id, room_id)
        event = _local_leave(knock, reason)
    store_out_of_band(event)
    return event.event_id


def leave_through_resident(user_id: str, room_id: str, reason: str | None = None) -> str | None:
    """The leave of the last local member of a room created elsewhere, made through another server in
    the room; its event ID, or None when this server has other members there, created the room, or no
    other server answered."""
    me = settings.HS.server_name
    if stores.local_members_joined(room_id, me, excluding=user_id):
        return None
    room = room_stores.get_room(room_id)
    if room is None or (room.creator or "").endswith(":" + me):
        return None  # a room created here: its leave is sent from here like any local event
    for destination in sorted(stores.servers_with_membership(room_id) - {me}):
        try:
            event = _remote_reject(destination, room_id, user_id, room.room_version, reason)
        except (client.FederationError, ValueError, MatrixError) as e:
            logger.info("Leaving %s through %s failed: %s", room_id, destination, e)
            continue
        with transaction.atomic():
            pipeline.process_remote_event(event, keyring.key_lookup, state_before=state_store.current_state(room_id))
        return event.event_id
    return None
