"""A local user joins a room this server is not in, through a server that is (spec: server-server
API, "Joining Rooms"; client-server API, joinRoom / joinRoomById):

    1. the room: a remote alias is resolved by its server (`GET /query/directory`), whose answer
       names servers in the room; with the client's `via` / `server_name`, the room ID's server (v1-v11
       IDs name one), the inviting server of a pending invite and servers we saw in the room, these
       are the candidates, tried in order;
    2. `GET /make_join/{roomId}/{userId}?ver=...` (every room version we support) gives a template;
       it is checked (a join of this user to this room), completed (profile, timestamp, origin) and
       signed; a `join_authorised_via_users_server` the resident server put there is kept;
    3. `PUT /v2/send_join` answers the room's state before the join and its auth chain. They are
       stored as outliers, each checked (signatures, hashes, its own auth events) by the pipeline;
       the join is then persisted as a timeline event with that state as the state before it, so the
       room's current state exists here and the user's /sync shows the room. For a restricted join
       the resident server returns the join with its signature added: that copy is the one kept.

A server that cannot be reached, or refuses, is followed by the next candidate. When all fail the
client gets the most telling refusal (M_FORBIDDEN, M_INCOMPATIBLE_ROOM_VERSION, ...) a server sent,
else 502 M_UNKNOWN.

Knocking (apps.federation.remote_knock) is the same handshake with other endpoints and shares its
parts: `candidate_servers`, `member_from_template` and `through_candidates`.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, TypeVar
from urllib.parse import quote

from django.conf import settings
from django.db import transaction

from apps.core.errors import Codes, MatrixError
from apps.rooms import pipeline
from apps.rooms import stores as room_stores
from apps.rooms.auth_rules import AUTHORISING_USER
from apps.rooms.event_signing import SignatureError, sign_event
from apps.rooms.events import Event
from apps.rooms.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion, get_room_version

from . import client, keyring, queries
from . import stores as fed_stores
from .transactions import _parse, _store_outliers

logger = logging.getLogger(__name__)
T = TypeVar("T")

CREATE_KEY = ("m.room.create", "")
# Refusals worth passing on to the client, most telling first.
_TELLING = (Codes.FORBIDDEN, "M_INCOMPATIBLE_ROOM_VERSION", "M_UNABLE_TO_AUTHORISE_JOIN",
            "M_UNABLE_TO_GRANT_JOIN", Codes.NOT_FOUND)


class _Refused(Exception):
    """A candidate server's answer we cannot use (the next one is tried)."""


def _q(value: str) -> str:
    return quote(value, safe="")


def _domain(identifier: str) -> str | None:
    return identifier.split(":", 1)[1] if ":" in identifier else None


def is_resident(room_id: str) -> bool:
    """A user of this server is joined to the room: the server can build a join itself."""
    return fed_stores.server_in_room(room_id, settings.HS.server_name)


def candidate_servers(room_id: str, user_id: str, hints: list[str] = ()) -> list[str]:
    """Servers to ask for the join, in order, without this one."""
    out: list[str] = list(hints)
    room_domain = _domain(room_id)
    if room_domain:
        out.append(room_domain)
    current = room_stores.membership_of(room_id, user_id)
    if current is not None and current[0] == "invite":
        invite = room_stores.get_event(current[1])
        if invite is not None and _domain(invite.sender):
            out.append(_domain(invite.sender))
    out.extend(sorted(fed_stores.servers_with_membership(room_id)))
    me = settings.HS.server_name
    return [s for s in dict.fromkeys(out) if s and s != me]


def wants_remote_join(room_id: str, user_id: str, hints: list[str] = ()) -> bool:
    """Whether POST /join (or /knock) must go over federation: this server is not in the room and knows
    whom to ask."""
    return not is_resident(room_id) and bool(candidate_servers(room_id, user_id, hints))


# --- the handshake -------------------------------------------------------------------------------------

def member_from_template(made: Any, room_id: str, user_id: str, membership: str, content: dict,
                         keep: tuple[str, ...] = ()) -> Event:
    """Our member event from the template of a make_join / make_knock / make_leave answer: checked
    (spec: the room, sender, state_key, type and membership must be the ones asked for, else the answer
    is malformed and the next server is tried), completed with `content` (plus the template's `keep`
    fields), timestamped and signed by this server."""
    name = f"make_{membership}"
    if not isinstance(made, dict):
        raise _Refused(f"{name} answered no object")
    rv_id = made.get("room_version", "1")  # spec: absent means version 1
    if rv_id not in KNOWN_ROOM_VERSIONS:
        raise _Refused(f"{name} names room version {rv_id!r}, which this server does not support")
    rv = get_room_version(rv_id)
    template = made.get("event")
    if not isinstance(template, dict):
        raise _Refused(f"{name} answered no event template")
    expected = {"type": "m.room.member", "room_id": room_id, "sender": user_id, "state_key": user_id}
    for key, value in expected.items():
        if template.get(key) != value:
            raise _Refused(f"{name} template has the wrong {key}")
    template_content = template.get("content")
    if not isinstance(template_content, dict) or template_content.get("membership") != membership:
        raise _Refused(f"{name} template is not a {membership}")
    pdu = {k: v for k, v in template.items() if k not in ("signatures", "hashes", "unsigned", "event_id")}
    new_content: dict[str, Any] = {**content, "membership": membership}
    for key in keep:
        if isinstance(template_content.get(key), str):
            new_content[key] = template_content[key]
    pdu["content"] = new_content
    pdu["origin_server_ts"] = int(time.time() * 1000)
    pdu["origin"] = settings.HS.server_name
    if rv.event_format == 1:
        from .remote_rooms import _v1_event_id

        pdu["event_id"] = _v1_event_id()
    return Event(sign_event(pdu, rv), rv)


def _returned_join(data: dict, ours: Event) -> Event:
    """Our join, or the copy the resident server signed too (restricted joins)."""
    returned = data.get("event")
    if not isinstance(returned, dict):
        return ours
    ev = _parse(returned, ours.room_version)
    if ev is None or ev.event_id != ours.event_id or ev.content != ours.content:
        raise _Refused("send_join returned another event than our join")
    return ev


def _persist_join(destination: str, data: Any, join: Event) -> None:
    if not isinstance(data, dict):
        raise _Refused("send_join answered no object")
    state_pdus, chain_pdus = data.get("state"), data.get("auth_chain")
    if not isinstance(state_pdus, list) or not isinstance(chain_pdus, list):
        raise _Refused("send_join answered no state or auth chain")
    join = _returned_join(data, join)
    rv = join.room_version
    parsed: dict[str, Event] = {}
    state_ids: list[str] = []
    for is_state, pdu in [*((False, p) for p in chain_pdus), *((True, p) for p in state_pdus)]:
        ev = _parse(pdu, rv)
        if ev is None or ev.room_id != join.room_id:
            continue
        parsed[ev.event_id] = ev
        if is_state and ev.is_state():
            state_ids.append(ev.event_id)
    parsed.pop(join.event_id, None)
    _store_outliers(destination, parsed)
    stored = room_stores.get_events(state_ids)
    state = {ev.state_pair: ev.event_id for ev in stored.values() if not ev.rejected and ev.is_state()}
    create = stored.get(state.get(CREATE_KEY, ""))
    if create is None:
        raise _Refused("send_join answered a state without a valid create event")
    if create.content.get("room_version", "1") != rv.identifier:
        raise _Refused("the room's create event names another room version than make_join")
    try:
        with transaction.atomic():
            pipeline.process_remote_event(join, keyring.key_lookup, state_before=state,
                                          check_current_state=False)
    except SignatureError as e:
        raise _Refused(f"our join does not verify: {e.reason}") from e
    kept = room_stores.get_event(join.event_id)
    if kept is None or kept.rejected:
        reason = kept.internal.rejected_reason if kept is not None else "not stored"
        raise MatrixError(Codes.FORBIDDEN, f"The join is not allowed by the room's state: {reason}", 403)


def _attempt(destination: str, room_id: str, user_id: str, profile: dict) -> None:
    path_ids = f"{_q(room_id)}/{_q(user_id)}"
    made = client.get_json(destination, f"/_matrix/federation/v1/make_join/{path_ids}",
                           query={"ver": list(KNOWN_ROOM_VERSIONS)})
    join = member_from_template(made, room_id, user_id, "join", profile, keep=(AUTHORISING_USER,))
    data = client.put_json(destination, f"/_matrix/federation/v2/send_join/{_q(room_id)}/{_q(join.event_id)}",
                           join.get_pdu_json())
    _persist_join(destination, data, join)


def _best_error(errors: list[client.FederationError | MatrixError], action: str) -> MatrixError:
    refusals = [e for e in errors if isinstance(e, MatrixError)]
    refusals += [_refusal(e, action) for e in errors if isinstance(e, client.FederationError)
                 and e.errcode and e.status is not None and 400 <= e.status < 500]
    for code in _TELLING:
        for e in refusals:
            if e.errcode == code:
                return e
    if refusals:
        return refusals[0]
    return MatrixError(Codes.UNKNOWN, f"No server in the room could be reached to {action} it", 502)


def _refusal(e: client.FederationError, action: str) -> MatrixError:
    if e.status == 404:
        return MatrixError(Codes.NOT_FOUND, f"{e.destination} does not know the room", 404)
    return queries.as_matrix_error(e, f"{action.capitalize()} the room")


def through_candidates(action: str, room_id: str, candidates: list[str], attempt: Callable[[str], T]) -> T:
    """`attempt(destination)` with each candidate server in turn, until one succeeds; then its result.
    A server that cannot be reached, refuses, or answers something unusable is followed by the next;
    when all fail, the client gets the most telling refusal (see `_best_error`). `action` ("join",
    "knock on") names the handshake in logs and errors."""
    if not candidates:
        raise MatrixError(Codes.NOT_FOUND, f"No known servers to {action} the room through", 404)
    errors: list[client.FederationError | MatrixError] = []
    for destination in candidates:
        try:
            return attempt(destination)
        except client.FederationError as e:
            logger.info("%s %s through %s failed: %s", action, room_id, destination, e)
            errors.append(e)
        except _Refused as e:
            logger.info("%s %s through %s: unusable answer: %s", action, room_id, destination, e)
            errors.append(MatrixError(Codes.UNKNOWN, f"{destination}: {e}", 502))
        except MatrixError as e:
            logger.info("%s %s through %s refused: %s", action, room_id, destination, e.error)
            errors.append(e)
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            # Malformed events in an answer that passed the shape checks: that server's answer is unusable.
            logger.warning("%s %s through %s: malformed answer (%r)", action, room_id, destination, e)
            errors.append(MatrixError(Codes.UNKNOWN, f"{destination} answered malformed events", 502))
    raise _best_error(errors, action)


def resolve_remote_alias(alias: str) -> dict[str, Any]:
    """{room_id, servers} of an alias of another server, asked of that server."""
    return queries.directory(alias)


def join_remote(user_id: str, room_id_or_alias: str, hints: list[str] = (), profile: dict | None = None) -> str:
    """Joins `user_id` to a room this server is not in; returns the room ID."""
    hints = [h for h in hints if isinstance(h, str) and h]
    if room_id_or_alias.startswith("#"):
        resolved = queries.directory(room_id_or_alias)
        room_id = resolved["room_id"]
        hints = [*resolved["servers"], _domain(room_id_or_alias) or "", *hints]
    else:
        room_id = room_id_or_alias
    candidates = candidate_servers(room_id, user_id, hints)
    through_candidates("join", room_id, candidates,
                       lambda destination: _attempt(destination, room_id, user_id, profile or {}))
    return room_id
