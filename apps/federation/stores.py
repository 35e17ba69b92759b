"""Database reads and writes of the server-server API: walks of the event graph (auth chains,
backfill, missing events), which servers are in a room, received transactions.

Walks are breadth-first over the edge tables (`EventAuth`, `EventEdge`) with one query per level,
or one recursive query for a whole auth chain, so a request costs a bounded number of queries per
level rather than per event.
"""
from __future__ import annotations

import json
import time
from collections.abc import Iterable

from django.db import IntegrityError, connection, transaction

from apps.rooms import stores as room_stores
from apps.rooms.events import Event
from apps.rooms.room_versions import RoomVersion
from apps.rooms.models import EventAuth, EventEdge, EventRow, RoomMembership

from .models import ReceivedTransaction


def auth_chain_ids(event_ids: Iterable[str], rv: RoomVersion | None = None, room_id: str | None = None) -> set[str]:
    """Every event reachable from `event_ids` over `auth_events`, recursively (not `event_ids` themselves
    unless one authorises another). In v12 no event lists the create event, which the room ID names;
    it authorises every event all the same, so it is part of every auth chain of the room."""
    ids = list(dict.fromkeys(event_ids))
    if not ids:
        return set()
    extra = set()
    if rv is not None and rv.room_id_from_create_event and room_id:
        extra.add("$" + room_id[1:])
    table = EventAuth._meta.db_table
    placeholders = ",".join(["%s"] * len(ids))
    # UNION (not UNION ALL) drops rows already produced, so the recursion ends on any graph.
    sql = f"""
        WITH RECURSIVE chain(id) AS (
            SELECT auth_event_id FROM {table} WHERE event_id IN ({placeholders})
            UNION
            SELECT a.auth_event_id FROM {table} a JOIN chain c ON a.event_id = c.id
        )
        SELECT id FROM chain
    """
    with connection.cursor() as cur:
        cur.execute(sql, ids)
        return {row[0] for row in cur.fetchall()} | (extra - set(ids))


def known_event_ids(event_ids: Iterable[str]) -> list[str]:
    """Which of `event_ids` are stored (any state: outlier, rejected, soft-failed)."""
    ids = list(dict.fromkeys(event_ids))
    return list(EventRow.objects.filter(event_id__in=ids).values_list("event_id", flat=True)) if ids else []


def events_in_room(room_id: str, event_ids: Iterable[str]) -> dict[str, Event]:
    return {i: e for i, e in room_stores.get_events(event_ids).items() if e.room_id == room_id}


def prev_ids_of(event_ids: Iterable[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for eid, prev in EventEdge.objects.filter(event_id__in=list(event_ids)).values_list("event_id", "prev_event_id"):
        out.setdefault(eid, []).append(prev)
    return out


def walk_back(room_id: str, start: list[str], *, limit: int, exclude: set[str] = frozenset(),
              include_start: bool = True, min_depth: int = 0) -> list[Event]:
    """Events of the room reached from `start` over `prev_events`, breadth-first (one level per query
    pair), at most `limit`, none in `exclude` and none below `min_depth`. Deepest first."""
    seen: set[str] = set(exclude)
    found: list[Event] = []
    if include_start:
        frontier = [i for i in dict.fromkeys(start) if i not in seen]
    else:
        seen.update(start)
        frontier = [p for ps in prev_ids_of(start).values() for p in ps if p not in seen]
    while frontier and len(found) < limit:
        seen.update(frontier)
        level = events_in_room(room_id, frontier)
        batch = sorted(level.values(), key=lambda e: (-e.depth, e.event_id))
        batch = [e for e in batch if e.depth >= min_depth]
        found.extend(batch[: limit - len(found)])
        nxt: list[str] = []
        for ps in prev_ids_of([e.event_id for e in batch]).values():
            nxt.extend(p for p in ps if p not in seen)
        frontier = list(dict.fromkeys(nxt))
    found.sort(key=lambda e: (-e.depth, e.event_id))
    return found


def servers_with_membership(room_id: str, memberships: Iterable[str] = ("join",)) -> set[str]:
    users = (RoomMembership.objects.filter(room_id=room_id, membership__in=list(memberships))
             .values_list("user_id", flat=True))
    return {u.split(":", 1)[1] for u in users if ":" in u}


def server_in_room(room_id: str, server_name: str) -> bool:
    return RoomMembership.objects.filter(room_id=room_id, membership="join",
                                         user_id__endswith=":" + server_name).exists()


def last_join_position(room_id: str, server_name: str) -> int | None:
    """The stream position of the latest join of a user of `server_name` to the room, if any."""
    rows = (EventRow.objects.filter(room_id=room_id, type="m.room.member", state_key__endswith=":" + server_name,
                                    outlier=False, rejected_reason__isnull=True, stream_ordering__isnull=False)
            .values_list("stream_ordering", "json"))
    best = None
    for pos, raw in rows:
        if json.loads(raw).get("content", {}).get("membership") == "join" and (best is None or pos > best):
            best = pos
    return best


# --- received transactions ---------------------------------------------------------------------------

def stored_response(origin: str, txn_id: str) -> dict | None:
    raw = ReceivedTransaction.objects.filter(origin=origin, txn_id=txn_id).values_list("response_json",
                                                                                       flat=True).first()
    return json.loads(raw) if raw is not None else None


# How long the response to a transaction is kept for a retry (Synapse keeps them a day too); the
# origin's older rows are dropped when it sends its next transaction.
TXN_RESPONSE_TTL_MS = 24 * 3600 * 1000


def store_response(origin: str, txn_id: str, response: dict) -> None:
    now = int(time.time() * 1000)
    try:
        with transaction.atomic():
            ReceivedTransaction.objects.create(origin=origin, txn_id=txn_id, response_json=json.dumps(response),
                                               received_ts=now)
    except IntegrityError:
        pass  # processed concurrently by another process: its response stands
    ReceivedTransaction.objects.filter(origin=origin, received_ts__lt=now - TXN_RESPONSE_TTL_MS).delete()


def local_members_joined(room_id: str, server_name: str, *, excluding: str | None = None) -> bool:
    """Whether a user of `server_name` other than `excluding` is joined to the room."""
    rows = RoomMembership.objects.filter(room_id=room_id, membership="join", user_id__endswith=":" + server_name)
    if excluding is not None:
        rows = rows.exclude(user_id=excluding)
    return rows.exists()
