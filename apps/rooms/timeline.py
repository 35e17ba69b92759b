"""Reading a room's history: the rules of

    GET /rooms/{roomId}/messages                       getRoomEvents       `get_messages`
    GET /rooms/{roomId}/context/{eventId}              getEventContext     `get_context`
    GET /rooms/{roomId}/event/{eventId}                getOneRoomEvent     `get_event`
    GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event   getEventByTimestamp  `timestamp_to_event`

Who may read: a joined member; a former member (leave, ban; not forgotten) up to their departure;
anyone when the room is `world_readable` now. Then every event goes through
`visibility.filter_events_for_user` (history visibility at the event) and is served redacted when
an applicable redaction names it (`redactions.apply_redactions`).

Pagination (`pagination.RoomToken`): rows are read in (depth, stream_ordering) order in batches;
events the filter or history visibility hide are skipped, and a page is cut after at most
`MAX_ROUNDS` batches, its `end` token pointing after the last row read (the chunk may then be short
or empty: the spec lets it be). `end` is omitted only when there is nothing more to read. So the
number of queries of a request is bounded whatever the limit or the size of the room.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from apps.core.errors import Codes, MatrixError

from . import serialize, state_store, stores, timeline_store
from .events import Event
from .filters import RoomEventFilter
from .pagination import RoomToken
from .redactions import apply_redactions
from .visibility import filter_events_for_user, is_world_readable_now

DEFAULT_LIMIT = 10
MAX_LIMIT = 1000
MAX_ROUNDS = 3
MAX_BATCH = 2000


def _now_ms() -> int:
    return int(time.time() * 1000)


def _serialize(requester, events: list[Event]) -> list[dict[str, Any]]:
    return _serialize_lists(requester, events)[0]


def _serialize_lists(requester, *lists: list[Event]) -> list[list[dict[str, Any]]]:
    """Several lists of events as ClientEvents, redactions applied to all of them at once."""
    now = _now_ms()
    served_list = apply_redactions([e for events in lists for e in events])
    # Bundled aggregations (client-server API, "Aggregations of child events"), once per page.
    serialize.bundle_aggregations(served_list, requester.user_id)
    served = iter(served_list)
    return [[serialize.client_event(next(served), now_ms=now, requester_device_id=requester.device_id,
                                    requester_user_id=requester.user_id) for _ in events] for events in lists]


# --- access ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Access:
    # The last `events` stream position the requester may read (their departure), None: no bound.
    cap: int | None


def _access(user_id: str, room_id: str, *, not_found: bool = False) -> Access:
    def refuse() -> MatrixError:
        if not_found:
            return MatrixError(Codes.NOT_FOUND, "Event not found", 404)
        return MatrixError(Codes.FORBIDDEN, "You aren't a member of the room and weren't previously a member", 403)

    row = stores.membership_row(room_id, user_id)
    if row is not None and not row[3]:
        membership, _, position, _ = row
        if membership == "join":
            return Access(None)
        if membership in ("leave", "ban"):
            return Access(None if is_world_readable_now(room_id) else position)
    if stores.get_room(room_id) is not None and is_world_readable_now(room_id):
        return Access(None)
    raise refuse()


def _limit(raw: int | None, default: int = DEFAULT_LIMIT) -> int:
    return default if raw is None else min(raw, MAX_LIMIT)


# --- pagination --------------------------------------------------------------------------------------

def _token_after(direction: str, event: Event, depth: int) -> RoomToken:
    so = event.internal.stream_ordering or 0
    return RoomToken.before(depth, so) if direction == "b" else RoomToken.after(depth, so)


def paginate(user_id: str, room_id: str, direction: str, start: RoomToken, limit: int, *,
             filt: RoomEventFilter | None = None, to: RoomToken | None = None,
             cap: int | None = None, ignored: frozenset[str] = frozenset()) -> tuple[list[Event], RoomToken, bool]:
    """Up to `limit` events the user may see, from `start` in `direction`; the token after the last
    row read, and whether there may be more to read from it. Non-state events of the `ignored` users
    are left out (spec: "Ignoring Users": state events are still sent)."""
    if limit <= 0:
        return [], start, True
    qs = timeline_store.with_filter(timeline_store.timeline_rows(room_id), filt)
    if cap is not None:
        qs = qs.filter(stream_ordering__lte=cap)
    if to is not None:
        qs = qs.filter(to.q_to(direction))
    chunk: list[Event] = []
    cursor = start
    batch = min(limit + 1, MAX_BATCH)
    for _ in range(MAX_ROUNDS):
        page = timeline_store.fetch_page(qs, cursor.q_from(direction), direction, batch)
        shown = {e.event_id for e in filter_events_for_user(user_id, [e for e, _ in page])
                 if (filt is None or filt.allows_event(e)) and not (e.sender in ignored and not e.is_state())}
        for i, (event, depth) in enumerate(page):
            cursor = _token_after(direction, event, depth)
            if event.event_id in shown:
                chunk.append(event)
                if len(chunk) == limit:
                    more = i + 1 < len(page) or len(page) == batch
                    return chunk, cursor, more
        if len(page) < batch:
            return chunk, cursor, False
        batch = min(batch * 2, MAX_BATCH)
    return chunk, cursor, True


def _ignored_by(user_id: str) -> frozenset[str]:
    """The users `user_id` ignores (account data `m.ignored_user_list`), once per request."""
    from apps.account_data.stores import ignored_users

    return ignored_users(user_id)


def _members_state(user_id: str, at_event: Event | None, senders: set[str]) -> list[Event]:
    """lazy_load_members: the member events of `senders` in the state after `at_event`."""
    if at_event is None or not senders:
        return []
    state = state_store.state_after_event(at_event.event_id) or {}
    ids = [state[("m.room.member", s)] for s in sorted(senders) if ("m.room.member", s) in state]
    found = stores.get_events(ids)
    return [found[i] for i in ids if i in found]


def get_messages(requester, room_id: str, *, direction: str, from_token: str | None, to_token: str | None,
                 limit: int | None, filt: RoomEventFilter) -> dict[str, Any]:
    """GET /rooms/{roomId}/messages."""
    from .persister import writer_for_room

    limit = _limit(limit if limit is not None else filt.limit)
    access = _access(requester.user_id, room_id)
    writer = writer_for_room(room_id)
    start = RoomToken.parse(from_token, writer=writer) if from_token is not None else None
    to = RoomToken.parse(to_token, writer=writer) if to_token is not None else None
    if start is None:
        start = (RoomToken(timeline_store.latest_stream(room_id)) if direction == "b" else RoomToken(0, 0))
    result: dict[str, Any] = {"start": from_token if from_token is not None else start.to_string(),
                              "chunk": []}
    if not filt.allows_room(room_id):
        return result
    chunk, end, more = paginate(requester.user_id, room_id, direction, start, limit, filt=filt, to=to,
                                cap=access.cap, ignored=_ignored_by(requester.user_id))
    members = (_members_state(requester.user_id, chunk[0], {e.sender for e in chunk})
               if filt.lazy_load_members and chunk else None)
    result["chunk"], state_json = _serialize_lists(requester, chunk, members or [])
    if more:
        result["end"] = end.to_string()
    if members is not None:
        result["state"] = state_json
    return result


# --- context -----------------------------------------------------------------------------------------

def _visible_event(user_id: str, room_id: str, event_id: str) -> tuple[Event, int]:
    event = stores.get_event(event_id)
    if event is None or event.room_id != room_id or event.internal.outlier or event.rejected \
            or event.internal.soft_failed or event.internal.stream_ordering is None:
        raise MatrixError(Codes.NOT_FOUND, "Event not found", 404)
    if not filter_events_for_user(user_id, [event]):
        raise MatrixError(Codes.NOT_FOUND, "Event not found", 404)
    return event, event.depth  # the stored depth is the PDU's


def get_context(requester, room_id: str, event_id: str, *, limit: int | None,
                filt: RoomEventFilter) -> dict[str, Any]:
    """GET /rooms/{roomId}/context/{eventId}: `limit` events around the event (half before, the
    rest after, as Synapse), the state at the last event returned, tokens to paginate on."""
    limit = _limit(limit)
    access = _access(requester.user_id, room_id, not_found=True)
    event, depth = _visible_event(requester.user_id, room_id, event_id)
    if access.cap is not None and (event.internal.stream_ordering or 0) > access.cap:
        raise MatrixError(Codes.NOT_FOUND, "Event not found", 404)
    so = event.internal.stream_ordering or 0
    before_limit = limit // 2
    after_limit = limit - before_limit
    allowed_room = filt.allows_room(room_id)
    ignored = _ignored_by(requester.user_id)
    before, start, _ = paginate(requester.user_id, room_id, "b", RoomToken.before(depth, so),
                             before_limit if allowed_room else 0, filt=filt, cap=access.cap, ignored=ignored)
    after, end, _ = paginate(requester.user_id, room_id, "f", RoomToken.after(depth, so),
                          after_limit if allowed_room else 0, filt=filt, cap=access.cap, ignored=ignored)
    last = after[-1] if after else event
    state_ids = state_store.state_after_event(last.event_id) or {}
    if filt.lazy_load_members:
        senders = {e.sender for e in (*before, event, *after)}
        state_ids = {k: v for k, v in state_ids.items() if k[0] != "m.room.member" or k[1] in senders}
    found = stores.get_events(state_ids.values())
    state = sorted((found[i] for i in state_ids.values() if i in found),
                   key=lambda e: (e.internal.stream_ordering or 0, e.event_id))
    state = [e for e in state if filt.allows_event(e)] if allowed_room else []
    before_json, event_json, after_json, state_json = _serialize_lists(requester, before, [event], after, state)
    return {
        "start": start.to_string(),
        "end": end.to_string(),
        "events_before": before_json,
        "event": event_json[0],
        "events_after": after_json,
        "state": state_json,
    }


# --- one event ---------------------------------------------------------------------------------------

def get_event(requester, room_id: str, event_id: str) -> dict[str, Any]:
    """GET /rooms/{roomId}/event/{eventId}: 404 for a missing event and for one the requester may
    not read alike (the spec's only error there)."""
    access = _access(requester.user_id, room_id, not_found=True)
    event, _ = _visible_event(requester.user_id, room_id, event_id)
    if access.cap is not None and (event.internal.stream_ordering or 0) > access.cap:
        raise MatrixError(Codes.NOT_FOUND, "Event not found", 404)
    return _serialize(requester, [event])[0]


# --- timestamp_to_event ------------------------------------------------------------------------------

_TS_SCAN = 50


def timestamp_to_event(requester, room_id: str, ts: int, direction: str) -> dict[str, Any]:
    """GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event: the visible event closest to `ts`
    in `direction` (among the nearest few); M_NOT_FOUND when there is none."""
    access = _access(requester.user_id, room_id)
    candidates = timeline_store.events_near_ts(room_id, ts, direction, _TS_SCAN)
    if access.cap is not None:
        candidates = [e for e in candidates if (e.internal.stream_ordering or 0) <= access.cap]
    visible = filter_events_for_user(requester.user_id, candidates)
    if not visible:
        word = "forward" if direction == "f" else "backward"
        raise MatrixError(Codes.NOT_FOUND, f"Unable to find event from {ts} in {word} direction", 404)
    return {"event_id": visible[0].event_id, "origin_server_ts": visible[0].origin_server_ts}
