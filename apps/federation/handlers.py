"""The server-server API's reads, as another server sees this one (spec: server-server API,
"Retrieving events", "Backfilling and retrieving missing events", "Retrieving event authorisation
information", "Querying for information", "Published Room Directory"):

    GET  /event/{eventId}                     getEvent                   `get_event`
    GET  /state/{roomId}?event_id=            getRoomState               `get_state`
    GET  /state_ids/{roomId}?event_id=        getRoomStateIds            `get_state` (ids_only)
    GET  /event_auth/{roomId}/{eventId}       getEventAuth               `get_event_auth`
    GET  /backfill/{roomId}?v=&limit=         backfillRoom               `backfill`
    POST /get_missing_events/{roomId}         getMissingPreviousEvents   `get_missing_events`
    GET  /timestamp_to_event/{roomId}         getEventByTimestamp        `timestamp_to_event`
    GET  /query/directory, /query/profile     queryRoomDirectory, queryProfile
    GET/POST /publicRooms                     getPublicRooms, queryPublicRooms

Who may read what:
  - every room endpoint first applies the room's server ACL (`acl.check`, 403 M_FORBIDDEN);
  - state, state ids and auth chains: only a server with a joined member in the room now;
  - single events, backfill, missing events: history visibility as it applies to the requesting
    *server* (`visible_to_server`): the client-server rules of "Room History Visibility" with "the
    user" read as "any user of that server", at the state before each event. Backfill and missing
    events serve an event the server may not see redacted rather than leave a hole in the graph; a
    single event it may not see is refused.
"""
from __future__ import annotations

import time
from typing import Any

from django.conf import settings

from apps.core.errors import Codes, MatrixError
from apps.core.ids import UserID
from apps.rooms import state_store
from apps.rooms import stores as room_stores
from apps.rooms.events import Event
from apps.rooms.redaction import prune_event_dict
from apps.rooms.room_versions import RoomVersion, get_room_version

from . import acl, stores

HV_KEY = ("m.room.history_visibility", "")
_HV_VALUES = ("world_readable", "shared", "invited", "joined")
MAX_BACKFILL = 100
DEFAULT_MISSING_LIMIT = 10
MAX_MISSING_LIMIT = 100


def now_ms() -> int:
    return int(time.time() * 1000)


def pdu_json(event: Event) -> dict[str, Any]:
    return event.get_pdu_json()


def transaction_body(pdus: list[dict]) -> dict[str, Any]:
    """The transaction shape the event and backfill responses use."""
    return {"origin": settings.HS.server_name, "origin_server_ts": now_ms(), "pdus": pdus}


# --- access --------------------------------------------------------------------------------------------

def room_version_of(room_id: str) -> RoomVersion:
    room = room_stores.get_room(room_id)
    if room is None:
        raise MatrixError(Codes.NOT_FOUND, "Unknown room", 404)
    return get_room_version(room.room_version)


def check_room(origin: str, room_id: str) -> RoomVersion:
    """The room's version, after its server ACL let `origin` in (404 for a room we do not know)."""
    rv = room_version_of(room_id)
    acl.check(room_id, origin)
    return rv


def require_joined(origin: str, room_id: str) -> None:
    if not stores.server_in_room(room_id, origin):
        raise MatrixError(Codes.FORBIDDEN, f"Host {origin} not in room {room_id}", 403)


def _domain(user_id: str) -> str:
    return user_id.split(":", 1)[1] if ":" in user_id else ""


def visible_to_server(origin: str, events: list[Event]) -> set[str]:
    """The ids of `events` that `origin` may see (see the module docstring). Rejected events are not
    visible; events without state (outliers) only to a server with a joined member now."""
    candidates = [e for e in events if not e.rejected]
    groups = state_store.groups_for_events([e.event_id for e in candidates])
    states: dict[int | None, dict] = {}

    def state(group: int | None) -> dict:
        if group not in states:
            states[group] = state_store.state_at(group) if group is not None else {}
        return states[group]

    wanted: set[str] = set()
    for e in candidates:
        g = groups.get(e.event_id)
        if g is None:
            continue
        for group in {g[0], g[1]}:
            s = state(group)
            if HV_KEY in s:
                wanted.add(s[HV_KEY])
            wanted.update(eid for (t, sk), eid in s.items() if t == "m.room.member" and _domain(sk) == origin)
    key_events = room_stores.get_events(wanted)
    last_join: dict[str, int | None] = {}

    def allowed(e: Event, group: int | None) -> bool:
        s = state(group)
        hv_ev = key_events.get(s.get(HV_KEY, ""))
        hv = hv_ev.content.get("history_visibility") if hv_ev is not None else None
        hv = hv if hv in _HV_VALUES else "shared"
        if hv == "world_readable":
            return True
        memberships = {key_events[eid].membership for (t, sk), eid in s.items()
                       if t == "m.room.member" and _domain(sk) == origin and eid in key_events}
        if "join" in memberships:
            return True
        if hv == "shared":
            if e.room_id not in last_join:
                last_join[e.room_id] = stores.last_join_position(e.room_id, origin)
            joined_at = last_join[e.room_id]
            if joined_at is not None and joined_at > (e.internal.stream_ordering or 0):
                return True
        return hv == "invited" and "invite" in memberships

    out: set[str] = set()
    joined_now: dict[str, bool] = {}
    for e in candidates:
        g = groups.get(e.event_id)
        if g is None:
            # An outlier (an auth event fetched out of the timeline): no state to judge it by, so only
            # for a server in the room now, which may need it to check the room's events.
            if e.room_id not in joined_now:
                joined_now[e.room_id] = stores.server_in_room(e.room_id, origin)
            if joined_now[e.room_id]:
                out.add(e.event_id)
            continue
        own_member = e.type == "m.room.member" and _domain(e.state_key or "") == origin
        if allowed(e, g[1]) or ((e.state_pair == HV_KEY or own_member) and allowed(e, g[0])):
            out.add(e.event_id)
    return out


def _as_seen_by(origin: str, events: list[Event]) -> list[dict]:
    visible = visible_to_server(origin, events)
    return [pdu_json(e) if e.event_id in visible else prune_event_dict(e.room_version, pdu_json(e))
            for e in events]


# --- events and state ----------------------------------------------------------------------------------

def get_event(origin: str, event_id: str) -> dict[str, Any]:
    event = room_stores.get_event(event_id)
    if event is None:
        raise MatrixError(Codes.NOT_FOUND, f"Could not find event {event_id}", 404)
    acl.check(event.room_id, origin)
    if event.event_id not in visible_to_server(origin, [event]):
        raise MatrixError(Codes.FORBIDDEN, f"Host {origin} may not see event {event_id}", 403)
    return transaction_body([pdu_json(event)])


def _event_in_room(room_id: str, event_id: str) -> Event:
    event = room_stores.get_event(event_id) if isinstance(event_id, str) and event_id else None
    if event is None or event.room_id != room_id:
        raise MatrixError(Codes.NOT_FOUND, f"Could not find event {event_id}", 404)
    return event


def get_state(origin: str, room_id: str, event_id: str | None, *, ids_only: bool) -> dict[str, Any]:
    """The state before `event_id` (spec: "prior to considering any state changes induced by the
    requested event") and its auth chain."""
    rv = check_room(origin, room_id)
    require_joined(origin, room_id)
    if not event_id:
        raise MatrixError(Codes.MISSING_PARAM, "Missing query parameter: event_id", 400)
    event = _event_in_room(room_id, event_id)
    state = state_store.state_before_event(event.event_id)
    if state is None:
        raise MatrixError(Codes.NOT_FOUND, f"No state is known at event {event_id}", 404)
    state_ids = list(state.values())
    chain_ids = stores.auth_chain_ids(state_ids, rv, room_id)
    if ids_only:
        return {"pdu_ids": state_ids, "auth_chain_ids": sorted(chain_ids)}
    found = room_stores.get_events(set(state_ids) | chain_ids)
    return {"pdus": [pdu_json(found[i]) for i in state_ids if i in found],
            "auth_chain": [pdu_json(found[i]) for i in sorted(chain_ids) if i in found]}


def get_event_auth(origin: str, room_id: str, event_id: str) -> dict[str, Any]:
    rv = check_room(origin, room_id)
    require_joined(origin, room_id)
    event = _event_in_room(room_id, event_id)
    chain = room_stores.get_events(stores.auth_chain_ids([event.event_id], rv, room_id))
    return {"auth_chain": [pdu_json(e) for e in sorted(chain.values(), key=lambda e: (e.depth, e.event_id))]}


def backfill(origin: str, room_id: str, v: list[str], limit: int | None) -> dict[str, Any]:
    """The events of `v` and those before them, deepest first, at most `limit`."""
    check_room(origin, room_id)
    require_joined(origin, room_id)
    if not v:
        raise MatrixError(Codes.MISSING_PARAM, "Missing query parameter: v", 400)
    if limit is None:
        raise MatrixError(Codes.MISSING_PARAM, "Missing query parameter: limit", 400)
    limit = min(limit, MAX_BACKFILL)
    events = stores.walk_back(room_id, v, limit=limit) if limit else []
    return transaction_body(_as_seen_by(origin, events))


def get_missing_events(origin: str, room_id: str, body: dict) -> dict[str, Any]:
    """Breadth-first over the prev events of `latest_events`, skipping `earliest_events`, oldest first."""
    check_room(origin, room_id)
    require_joined(origin, room_id)
    earliest, latest = body.get("earliest_events"), body.get("latest_events")
    for name, value in (("earliest_events", earliest), ("latest_events", latest)):
        if not isinstance(value, list) or not all(isinstance(i, str) for i in value):
            raise MatrixError(Codes.BAD_JSON, f"{name} must be a list of event IDs", 400)
    limit, min_depth = body.get("limit", DEFAULT_MISSING_LIMIT), body.get("min_depth", 0)
    for name, value in (("limit", limit), ("min_depth", min_depth)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise MatrixError(Codes.BAD_JSON, f"{name} must be a non-negative integer", 400)
    limit = min(limit, MAX_MISSING_LIMIT)
    known_latest = list(stores.events_in_room(room_id, latest))
    events = stores.walk_back(room_id, known_latest, limit=limit, exclude=set(earliest),
                              include_start=False, min_depth=min_depth) if limit else []
    events.sort(key=lambda e: (e.depth, e.event_id))
    return {"events": _as_seen_by(origin, events)}


def timestamp_to_event(origin: str, room_id: str, ts: int, direction: str) -> dict[str, Any]:
    from apps.rooms import timeline_store

    check_room(origin, room_id)
    if direction not in ("f", "b"):
        raise MatrixError(Codes.INVALID_PARAM, "dir must be 'f' or 'b'", 400)
    candidates = timeline_store.events_near_ts(room_id, ts, direction, 50)
    visible = visible_to_server(origin, candidates)
    for e in candidates:
        if e.event_id in visible:
            return {"event_id": e.event_id, "origin_server_ts": e.origin_server_ts}
    word = "forward" if direction == "f" else "backward"
    raise MatrixError(Codes.NOT_FOUND, f"Unable to find event from {ts} in {word} direction", 404)


# --- queries -------------------------------------------------------------------------------------------

def query_directory(room_alias: str | None) -> dict[str, Any]:
    """GET /query/directory: a local alias's room and the servers in it (ours first)."""
    from apps.rooms import aliases

    if not room_alias:
        raise MatrixError(Codes.MISSING_PARAM, "Missing query parameter: room_alias", 400)
    alias = aliases.parse_alias(room_alias)
    if not alias.is_local:
        raise MatrixError(Codes.NOT_FOUND, f"Room alias {room_alias} is not on this server", 404)
    return aliases.resolve_alias(room_alias)


def query_profile(user_id: str | None, field: str | None) -> dict[str, Any]:
    """GET /query/profile: a local user's profile, or one field of it."""
    from apps.accounts import handlers as accounts

    if not user_id:
        raise MatrixError(Codes.MISSING_PARAM, "Missing query parameter: user_id", 400)
    target = UserID.parse(user_id)
    if target.domain != settings.HS.server_name:
        raise MatrixError(Codes.INVALID_PARAM, "User is not local to this server", 400)
    if field is not None:
        if field not in ("displayname", "avatar_url"):
            raise MatrixError(Codes.INVALID_PARAM, "field must be displayname or avatar_url", 400)
        return accounts.get_profile_field(user_id, field)
    return accounts.get_profile(user_id)


def public_rooms(**kwargs: Any) -> dict[str, Any]:
    """The published room directory, if this server offers it to other servers at all."""
    from apps.rooms import directory

    if not settings.HS.allow_public_rooms_over_federation:
        raise MatrixError(Codes.FORBIDDEN, "This server does not share its public room directory over "
                                           "federation", 403)
    return directory.public_rooms(**kwargs)
