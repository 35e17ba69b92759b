"""The rules of receipts and read markers.

Spec: client-server API, "Receipts" (postReceipt: `m.read`, `m.read.private`, `m.fully_read`, threaded
receipts) and "Read and unread markers" (setReadMarker). A receipt needs the user joined to the room
and the event in the room and visible to them. `m.fully_read` is room account data of type
`m.fully_read` (written through `apps.account_data`, which clients cannot use for this type).
"""
from __future__ import annotations

import time
from typing import Any

from apps.core.errors import Codes, MatrixError
from apps.push.threads import MAIN, thread_of_event
from apps.rooms import stores as room_stores

from . import stores

RECEIPT_TYPES = ("m.read", "m.read.private", "m.fully_read")
FULLY_READ = "m.fully_read"


def _now_ms() -> int:
    return int(time.time() * 1000)


def _check_joined(user_id: str, room_id: str) -> None:
    membership = room_stores.membership_of(room_id, user_id)
    if membership is None or membership[0] != "join":
        raise MatrixError(Codes.FORBIDDEN, "You are not joined to this room", 403)


def _visible_event(user_id: str, room_id: str, event_id: str):
    """The event, if it is a timeline event of the room the user may see; else M_NOT_FOUND."""
    from apps.rooms.visibility import filter_events_for_user

    if not isinstance(event_id, str) or not event_id.startswith("$"):
        raise MatrixError(Codes.INVALID_PARAM, f"Invalid event ID: {event_id!r}", 400)
    ev = room_stores.get_event(event_id)
    if (ev is None or ev.room_id != room_id or ev.internal.stream_ordering is None or ev.internal.outlier
            or ev.rejected or ev.internal.soft_failed or not filter_events_for_user(user_id, [ev])):
        raise MatrixError(Codes.NOT_FOUND, "Event not found in this room", 404)
    return ev


def _check_thread(thread_id: Any, ev) -> str:
    """The thread key of a threaded receipt ("main" or a thread root), checked against the event's own
    thread (postReceipt 400: "The event_id is not related to the thread_id")."""
    if not isinstance(thread_id, str) or not thread_id:
        raise MatrixError(Codes.INVALID_PARAM, "thread_id field must be a non-empty string", 400)
    if thread_id != MAIN and not thread_id.startswith("$"):
        raise MatrixError(Codes.INVALID_PARAM, "thread_id must be 'main' or a thread root's event ID", 400)
    actual = thread_of_event(ev.content, ev.room_id)
    # A thread root is itself in the main timeline; a receipt on it in its own thread is accepted too.
    if actual != thread_id and not (thread_id == ev.event_id and actual == MAIN):
        raise MatrixError(Codes.INVALID_PARAM, f"Event {ev.event_id} is not in thread {thread_id}", 400)
    return thread_id


REPLICATION_WRITE_PATH = "/receipts/write"


def write_receipt(room_id: str, user_id: str, receipt_type: str, thread_key: str, event_id: str,
                  event_stream_ordering: int, ts: int) -> int | None:
    """Store a checked receipt (`stores.upsert`); on an instance that does not write the `receipts`
    stream, on its writer (internal replication HTTP), returning once this instance can read it. The
    new position, or None when the stored receipt was already as far."""
    from hsproject import instance

    if instance.writes(stores.STREAM):
        return stores.upsert(room_id, user_id, receipt_type, thread_key, event_id, event_stream_ordering, ts)
    from apps.streams.replication_http import call_instance, wait_for_position

    answer = call_instance(instance.writers_of(stores.STREAM)[0], REPLICATION_WRITE_PATH, {
        "room_id": room_id, "user_id": user_id, "receipt_type": receipt_type, "thread_key": thread_key,
        "event_id": event_id, "event_stream_ordering": event_stream_ordering, "ts": ts})
    position = answer.get("position")
    if position is None:
        return None
    if not isinstance(position, int) or isinstance(position, bool):
        raise MatrixError(Codes.UNKNOWN, "The receipts writer gave no position", 502)
    wait_for_position(stores.STREAM, position)
    return position


def _store_receipt(user_id: str, room_id: str, receipt_type: str, ev, thread_key: str) -> None:
    write_receipt(room_id, user_id, receipt_type, thread_key, ev.event_id, ev.internal.stream_ordering, _now_ms())


def _set_fully_read(user_id: str, room_id: str, ev) -> None:
    from apps.account_data.handlers import write_server_account_data

    write_server_account_data(user_id, room_id, FULLY_READ, {"event_id": ev.event_id})


def post_receipt(requester, room_id: str, receipt_type: str, event_id: str, body: dict[str, Any]) -> None:
    if receipt_type not in RECEIPT_TYPES:
        raise MatrixError(Codes.INVALID_PARAM, f"Receipt type must be one of {', '.join(RECEIPT_TYPES)}", 400)
    thread_id = body.get("thread_id")
    if receipt_type == FULLY_READ and thread_id is not None:
        raise MatrixError(Codes.INVALID_PARAM, "thread_id is not allowed on m.fully_read", 400)
    user_id = requester.user_id
    _check_joined(user_id, room_id)
    ev = _visible_event(user_id, room_id, event_id)
    if receipt_type == FULLY_READ:
        _set_fully_read(user_id, room_id, ev)
        return
    thread_key = "" if thread_id is None else _check_thread(thread_id, ev)
    _store_receipt(user_id, room_id, receipt_type, ev, thread_key)


def set_read_markers(requester, room_id: str, body: dict[str, Any]) -> None:
    """POST /read_markers: `m.fully_read`, and the unthreaded `m.read` / `m.read.private` receipts as
    postReceipt would set them. Everything is checked before anything is written."""
    user_id = requester.user_id
    _check_joined(user_id, room_id)
    wanted: dict[str, Any] = {}
    for key in (FULLY_READ, "m.read", "m.read.private"):
        value = body.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise MatrixError(Codes.BAD_JSON, f"{key} must be an event ID", 400)
        wanted[key] = _visible_event(user_id, room_id, value)
    for key, ev in wanted.items():
        if key == FULLY_READ:
            _set_fully_read(user_id, room_id, ev)
        else:
            _store_receipt(user_id, room_id, key, ev, "")


# --- receipts from other servers -----------------------------------------------------------------

def on_receipt_edu(origin: str, content: dict[str, Any]) -> int:
    """An `m.receipt` EDU (server-server API, "Receipts"): the `m.read` receipts of `origin`'s users,
    `{room_id: {"m.read": {user_id: {"event_ids": [id], "data": {"ts", "thread_id"?}}}}}`. Only entries
    listed are updated; a user of another server, a user not joined to the room, or an event this
    server does not have is ignored (the rest of the EDU still applies). Returns how many were stored."""
    from apps.core.ids import server_name_of

    stored = 0
    for room_id, by_type in content.items():
        if not isinstance(room_id, str) or not isinstance(by_type, dict):
            continue
        reads = by_type.get("m.read")  # m.read.private never travels over federation
        if not isinstance(reads, dict):
            continue
        for user_id, receipt in reads.items():
            if not isinstance(user_id, str) or server_name_of(user_id) != origin or not isinstance(receipt, dict):
                continue
            event_ids = receipt.get("event_ids")
            data = receipt.get("data") if isinstance(receipt.get("data"), dict) else {}
            if not isinstance(event_ids, list) or not event_ids or not all(isinstance(e, str) for e in event_ids):
                continue
            membership = room_stores.membership_of(room_id, user_id)
            if membership is None or membership[0] != "join":
                continue
            events = [e for e in room_stores.get_events(event_ids).values()
                      if e.room_id == room_id and e.internal.stream_ordering is not None]
            if not events:
                continue
            ev = max(events, key=lambda e: e.internal.stream_ordering)
            thread_id = data.get("thread_id")
            thread_key = thread_id if isinstance(thread_id, str) and (thread_id == MAIN or thread_id.startswith("$")) \
                else ""
            ts = data.get("ts")
            ts = ts if isinstance(ts, int) and not isinstance(ts, bool) and ts >= 0 else _now_ms()
            if write_receipt(room_id, user_id, "m.read", thread_key, ev.event_id, ev.internal.stream_ordering, ts):
                stored += 1
    return stored
