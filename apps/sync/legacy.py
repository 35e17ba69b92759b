"""The deprecated sync endpoints (client-server API, "Syncing"; OpenAPI `old_sync.yaml`,
`room_initial_sync.yaml`, `peeking_events.yaml`), still routed to sync workers for old clients:

    GET /events?from=&timeout=            getEvents        `events_and_wait`: room events since `from`
    GET /events?room_id=&from=&timeout=   peekEvents       the same, for one room the user may peek at
    GET /initialSync?limit=&archived=     initialSync      `initial_sync`
    GET /rooms/{roomId}/initialSync       roomInitialSync  `room_initial_sync`
    GET /events/{eventId}                 getOneEvent      `get_one_event`

Tokens are `/sync` tokens (`StreamToken`): `/events?from=` takes a `/sync` `next_batch` or the `end` of
an `/initialSync` or an earlier `/events`. `/events` long-polls on the notifier exactly like `/sync`
(`handlers.sync_and_wait`): no thread and no database connection held while it waits. Its `chunk` holds
the timeline events (oldest first, history visibility applied) of the rooms the user is joined to as of
the token it answers at, plus the user's own membership events elsewhere (an invite, a ban), at most
`EVENTS_CHUNK` of them; `end` then points just after the last one, so nothing is skipped or repeated.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from apps.core.errors import Codes, MatrixError
from apps.rooms import serialize, state_store
from apps.rooms import stores as room_stores
from apps.rooms.directory_store import is_published
from apps.rooms.events import Event
from apps.rooms.redactions import apply_redactions
from apps.rooms.visibility import filter_events_for_user, is_world_readable_now
from apps.streams.tokens import StreamToken

from . import handlers, sections, stores
from .filters import SyncFilter

EVENTS_CHUNK = 100
DEFAULT_MESSAGES_LIMIT = 10
MAX_MESSAGES_LIMIT = 1000


def _now_ms() -> int:
    return int(time.time() * 1000)


def _client_events(requester, events: list[Event]) -> list[dict[str, Any]]:
    now = _now_ms()
    return [serialize.client_event(e, now_ms=now, requester_device_id=requester.device_id,
                                   requester_user_id=requester.user_id) for e in apply_redactions(events)]


# --- /events ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EventsQuery:
    since: StreamToken | None = None
    room_id: str | None = None  # peekEvents


def _peekable(user_id: str, room_id: str) -> None:
    """peekEvents: a room whose history is world_readable, or one the user is joined to."""
    if room_stores.get_room(room_id) is None:
        raise MatrixError(Codes.NOT_FOUND, "Unknown room", 404)
    membership = room_stores.membership_of(room_id, user_id)
    if membership is not None and membership[0] == "join":
        return
    if not is_world_readable_now(room_id):
        raise MatrixError(Codes.FORBIDDEN, "You are not allowed to peek into this room", 403)


def events_once(requester, query: EventsQuery, state, *, want_keys: bool) -> tuple[dict[str, Any], StreamToken, list]:
    """One look at the events after `query.since`: the response, the token it is at, and the notifier
    keys to wait on when it found nothing (and `want_keys`)."""
    from apps.streams.notifier import keys_for

    now = handlers.token_at_least(handlers.current_token(state), query.since)
    since = query.since or now
    up_to, low = now.position("events"), since.position("events")
    if query.room_id is not None:
        _peekable(requester.user_id, query.room_id)
        rooms, own_member_events = [query.room_id], False
    else:
        rooms = [r for r, (m, _, _) in stores.memberships_at(requester.user_id, up_to).items() if m == "join"]
        own_member_events = True
    found = stores.room_events(rooms, requester.user_id if own_member_events else None, low, up_to,
                               EVENTS_CHUNK + 1)
    end = now
    if len(found) > EVENTS_CHUNK:
        found = found[:EVENTS_CHUNK]
        end = since.copy_and_advance("events", found[-1].internal.stream_ordering or low)
        # Only the events position moved: the other streams stay where `since` was.
        end = StreamToken(end.positions)
    visible = _visible(requester.user_id, found)
    response = {"chunk": _client_events(requester, visible), "start": since.to_string(), "end": end.to_string()}
    keys = []
    if want_keys and not found:
        keys = keys_for([requester.user_id], rooms)
    return response, end, keys


def _visible(user_id: str, events: list[Event]) -> list[Event]:
    """History visibility, except that the user always sees their own membership events (an invite to a
    room whose history they may not read)."""
    own = {e.event_id for e in events if e.type == "m.room.member" and e.state_key == user_id}
    others = {e.event_id for e in filter_events_for_user(user_id, [e for e in events if e.event_id not in own])}
    return [e for e in events if e.event_id in own or e.event_id in others]


async def events_and_wait(requester, query: EventsQuery, timeout_ms: int) -> dict[str, Any]:
    """GET /events: answer at once when there are events after `from`, else wait (like `/sync`) until an
    event concerning the user (or the peeked room) arrives, or the timeout."""
    import asyncio

    from apps.streams import replication
    from apps.streams.notifier import get_notifier

    state = await handlers.db_call(replication.get_state)()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_ms / 1000
    can_wait = timeout_ms > 0
    start: str | None = None
    while True:
        response, now, keys = await handlers.db_call(events_once)(requester, query, state, want_keys=can_wait)
        if start is None:
            start = response["start"]
        response["start"] = start  # the token the client sent, however long we waited
        remaining = deadline - loop.time()
        if not can_wait or response["chunk"] or remaining <= 0:
            return response
        # A change of another stream, or an event the user may not see, wakes us too: look again from
        # `now`, which moved past it.
        changed = await get_notifier().wait_for_change(keys, now.since_positions(), remaining)
        query = replace(query, since=now)
        if not changed:
            can_wait = False


# --- initialSync -----------------------------------------------------------------------------------------

def _messages_limit(limit: int | None) -> int:
    return DEFAULT_MESSAGES_LIMIT if limit is None else min(limit, MAX_MESSAGES_LIMIT)


def _room_info(requester, room_id: str, membership: str | None, member_event_id: str | None, member_pos: int,
               up_to: int, end: str, limit: int) -> dict[str, Any]:
    """RoomInfo: the last `limit` messages and the state, as of `up_to` for a member (and a peeker), as of
    their departure for a former member."""
    info: dict[str, Any] = {"room_id": room_id}
    if membership is not None:
        info["membership"] = membership
    if membership in ("invite", "knock"):
        invite = room_stores.get_event(member_event_id) if member_event_id else None
        if invite is not None and membership == "invite":
            info["invite"] = _client_events(requester, [invite])[0]
        return info
    left = membership in ("leave", "ban")
    last = member_pos if left else up_to
    events, _ = stores.timeline(room_id, 0, last, limit, None,
                                lambda page: filter_events_for_user(requester.user_id, page))
    messages: dict[str, Any] = {"chunk": _client_events(requester, events),
                                "end": f"s{last}" if left else end}
    if events:
        messages["start"] = f"s{(events[0].internal.stream_ordering or 1) - 1}"
    info["messages"] = messages
    if left and member_event_id:
        state_ids = state_store.state_after_event(member_event_id) or {}
    else:
        last_id = stores.last_event_at(room_id, last)
        state_ids = (state_store.state_after_event(last_id) or {}) if last_id else {}
    found = room_stores.get_events(state_ids.values())
    state = sorted((found[i] for i in state_ids.values() if i in found),
                   key=lambda e: (e.internal.stream_ordering or 0, e.event_id))
    info["state"] = _client_events(requester, state)
    info["visibility"] = "public" if is_published(room_id) else "private"
    info["account_data"] = []
    return info


def _sections(requester, now: StreamToken, joined: list[str]) -> dict[str, Any]:
    """What the other streams' `/sync` sections have for an initial sync (account data, presence)."""
    response = handlers.empty_response(now.to_string())
    ctx = sections.SyncContext(requester=requester, since=None, now=now, full_state=False, filter=SyncFilter(),
                               joined_rooms=joined, response=response)
    sections.run_fills(ctx)
    return response


def initial_sync(requester, state, *, limit: int | None, archived: bool) -> dict[str, Any]:
    """GET /initialSync: every room the user is in (joined or invited; with `archived`, left and banned
    too), with recent messages and state; the global account data and presence the other streams have."""
    now = handlers.current_token(state)
    up_to = now.position("events")
    end = now.to_string()
    limit = _messages_limit(limit)
    rooms = []
    joined = []
    for room_id, (membership, event_id, pos) in stores.memberships_at(requester.user_id, up_to).items():
        if membership == "knock" or (membership in ("leave", "ban") and not archived):
            continue
        if membership == "join":
            joined.append(room_id)
        rooms.append(_room_info(requester, room_id, membership, event_id, pos, up_to, end, limit))
    extra = _sections(requester, now, joined)
    for info in rooms:
        entry = extra["rooms"]["join"].get(info["room_id"])
        if entry is not None and "account_data" in info:
            info["account_data"] = entry.get("account_data", {}).get("events", [])
    return {"end": end, "rooms": rooms, "presence": extra["presence"]["events"],
            "account_data": extra["account_data"]["events"]}


def room_initial_sync(requester, state, room_id: str, *, limit: int | None) -> dict[str, Any]:
    """GET /rooms/{roomId}/initialSync: for a member (as of their departure for a former one), or anyone
    when the room's history is world_readable."""
    if room_stores.get_room(room_id) is None:
        raise MatrixError(Codes.FORBIDDEN, "You aren't a member of the room", 403)
    now = handlers.current_token(state)
    up_to = now.position("events")
    row = stores.memberships_at(requester.user_id, up_to).get(room_id)
    forgotten = room_stores.membership_of(room_id, requester.user_id) is None and row is not None \
        and row[0] in ("leave", "ban")
    if row is not None and not forgotten and row[0] in ("join", "leave", "ban"):
        membership, event_id, pos = row
    elif is_world_readable_now(room_id):
        membership, event_id, pos = None, None, up_to
    else:
        raise MatrixError(Codes.FORBIDDEN, "You aren't a member of the room and it is not world readable", 403)
    info = _room_info(requester, room_id, membership, event_id, pos, up_to, now.to_string(),
                      _messages_limit(limit))
    if membership == "join":
        entry = _sections(requester, now, [room_id])["rooms"]["join"].get(room_id)
        if entry is not None:
            info["account_data"] = entry.get("account_data", {}).get("events", [])
    return info


# --- getOneEvent -----------------------------------------------------------------------------------------

def get_one_event(requester, event_id: str) -> dict[str, Any]:
    """GET /events/{eventId}: as GET /rooms/{roomId}/event/{eventId} for the event's room (404 alike for
    a missing event and one the user may not see)."""
    from apps.rooms.timeline import get_event

    room_id = room_stores.event_room_id(event_id)
    if room_id is None:
        raise MatrixError(Codes.NOT_FOUND, "Event not found", 404)
    return get_event(requester, room_id, event_id)
