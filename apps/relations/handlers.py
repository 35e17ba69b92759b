"""The rules of the relationships endpoints (client-server API, "Relationships API", "Threading"):

    GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]]   `get_relations`
    GET /_matrix/client/v1/rooms/{roomId}/threads                                          `get_threads`

/relations: the parent must be an event of the room the user may see (history visibility), else
404 M_NOT_FOUND for a missing and a hidden event alike. Children are the index's rows
(`models.EventRelation`), in the room's topological order (depth, stream ordering), newest first
unless `dir=f`; those the user may not see, and those of users they ignore, are skipped. Tokens are the room's pagination tokens
(`apps.rooms.pagination.RoomToken`): `t<depth>-<stream>` as handed out here and by /messages, or a
/sync token. `recurse` follows relationships up to `MAX_RECURSION` levels (the spec asks for at
least 3) and then answers `recursion_depth`.

/threads: the room's thread roots (`models.ThreadRoot`) by their latest event, topologically; the
user must be a member, a former member, or the room world-readable (else 403 M_FORBIDDEN); roots
the user may not see are skipped, and a root sent by an ignored user is served redacted. The token
is `th<depth>_<position>`: threads whose latest event comes before that point.

Both page in at most `MAX_ROUNDS` batches: a page may come back short, never unboundedly expensive.
"""
from __future__ import annotations

import re
import time
from typing import Any

from apps.core.errors import Codes, MatrixError
from apps.rooms import serialize
from apps.rooms import stores as room_stores
from apps.rooms.events import Event
from apps.rooms.pagination import RoomToken
from apps.rooms.persister import writer_for_room
from apps.rooms.redaction import prune_event
from apps.rooms.redactions import apply_redactions
from apps.rooms.visibility import filter_events_for_user, is_world_readable_now

from . import stores
from .aggregations import ignored_by

DEFAULT_LIMIT = 10
MAX_LIMIT = 100
MAX_RECURSION = 3
MAX_ROUNDS = 3
_THREADS_TOKEN = re.compile(r"th(-?[0-9]{1,18})_(-?[0-9]{1,18})")


def _now_ms() -> int:
    return int(time.time() * 1000)


def serialize_page(requester, events: list[Event]) -> list[dict[str, Any]]:
    """ClientEvents with redactions applied and bundled aggregations, a bounded number of queries."""
    served = apply_redactions(events)
    serialize.bundle_aggregations(served, requester.user_id)
    now = _now_ms()
    return [serialize.client_event(e, now_ms=now, requester_device_id=requester.device_id,
                                   requester_user_id=requester.user_id) for e in served]


def _limit(raw: int | None) -> int:
    return DEFAULT_LIMIT if raw is None else max(1, min(raw, MAX_LIMIT))


def _visible_parent(user_id: str, room_id: str, event_id: str) -> Event:
    event = room_stores.get_event(event_id)
    if (event is None or event.room_id != room_id or event.internal.outlier or event.rejected
            or event.internal.soft_failed or not filter_events_for_user(user_id, [event])):
        raise MatrixError(Codes.NOT_FOUND, "Event not found", 404)
    return event


def get_relations(requester, room_id: str, event_id: str, *, rel_type: str | None = None,
                  event_type: str | None = None, from_token: str | None = None, to_token: str | None = None,
                  limit: int | None = None, direction: str = "b", recurse: bool | None = None) -> dict[str, Any]:
    _visible_parent(requester.user_id, room_id, event_id)
    limit = _limit(limit)
    writer = writer_for_room(room_id)
    start = RoomToken.parse(from_token, writer=writer) if from_token is not None else None
    to = RoomToken.parse(to_token, writer=writer) if to_token is not None else None
    depth = MAX_RECURSION if recurse else 1
    qs = stores.children(room_id, event_id, rel_type=rel_type, event_type=event_type, max_depth=depth)
    ignored = ignored_by(requester.user_id)
    if ignored:
        qs = qs.exclude(sender__in=list(ignored))
    if to is not None:
        qs = qs.filter(to.q_to(direction))

    chunk: list[Event] = []
    cursor: RoomToken | None = start
    more = False
    batch = limit + 1
    for _ in range(MAX_ROUNDS):
        rows = stores.page(qs, cursor.q_from(direction) if cursor is not None else None, direction, batch)
        found = room_stores.get_events(eid for eid, _, _ in rows)
        shown = {e.event_id for e in filter_events_for_user(requester.user_id, list(found.values()))}
        full = False
        for i, (eid, d, so) in enumerate(rows):
            cursor = RoomToken.before(d, so) if direction == "b" else RoomToken.after(d, so)
            if eid in shown:
                chunk.append(found[eid])
                if len(chunk) == limit:
                    full = True
                    more = i + 1 < len(rows)
                    break
        if full:
            break
        if len(rows) < batch:
            more = False
            break
        more = True
        batch = min(batch * 2, 1000)

    result: dict[str, Any] = {"chunk": serialize_page(requester, chunk)}
    if more and cursor is not None:
        result["next_batch"] = cursor.to_string()
    if from_token is not None:
        result["prev_batch"] = from_token
    if recurse is not None:
        result["recursion_depth"] = depth
    return result


def _may_view_room(user_id: str, room_id: str) -> None:
    row = room_stores.membership_row(room_id, user_id)
    if row is not None and not row[3] and row[0] in ("join", "leave", "ban"):
        if row[0] != "ban" or is_world_readable_now(room_id):
            return
    elif room_stores.get_room(room_id) is not None and is_world_readable_now(room_id):
        return
    raise MatrixError(Codes.FORBIDDEN, "You are not allowed to view this room.", 403)


def get_threads(requester, room_id: str, *, include: str = "all", from_token: str | None = None,
                limit: int | None = None) -> dict[str, Any]:
    before = None
    if from_token is not None:
        m = _THREADS_TOKEN.fullmatch(from_token)
        if m is None:
            raise MatrixError(Codes.INVALID_PARAM, "Unknown pagination token", 400)
        before = (int(m.group(1)), int(m.group(2)))
    _may_view_room(requester.user_id, room_id)
    limit = _limit(limit)
    participant = requester.user_id if include == "participated" else None

    chunk: list[Event] = []
    more = False
    batch = limit + 1
    for _ in range(MAX_ROUNDS):
        rows = stores.thread_roots(room_id, participant=participant, before=before, count=batch)
        found = room_stores.get_events(r for r, _, _ in rows)
        shown = {e.event_id for e in filter_events_for_user(requester.user_id, list(found.values()))}
        full = False
        for i, (root_id, depth, position) in enumerate(rows):
            before = (depth, position)
            if root_id in shown:
                chunk.append(found[root_id])
                if len(chunk) == limit:
                    full = True
                    more = i + 1 < len(rows)
                    break
        if full:
            break
        if len(rows) < batch:
            more = False
            break
        more = True
        batch = min(batch * 2, 1000)
    ignored = ignored_by(requester.user_id)
    # Spec (getThreadRoots): a root sent by an ignored user is served redacted, as a client that
    # aggregates threads locally would show it.
    chunk = [prune_event(e) if e.sender in ignored else e for e in chunk]
    result: dict[str, Any] = {"chunk": serialize_page(requester, chunk)}
    if more and before is not None:
        result["next_batch"] = f"th{before[0]}_{before[1]}"
    return result
