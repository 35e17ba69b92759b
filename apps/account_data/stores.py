"""Every query of account data: rows by (user, room, type), the rows changed in a stream range, and the
ignored-users list that `/sync`, `/messages` and `/context` read once per request.

Writes take their `account_data` position inside the writing transaction, just before the row is
written (`apps.streams.replication.allocate_position`), and publish `{user_id, room_id, type}` on commit.
"""
from __future__ import annotations

import json
from typing import Any, Callable

from canonicaljson import encode_canonical_json
from django.db import IntegrityError, transaction

from apps.streams.replication import allocate_position, on_commit_publish

from .models import AccountData

STREAM = "account_data"
IGNORED_USER_LIST = "m.ignored_user_list"


def get(user_id: str, room_id: str | None, data_type: str) -> dict[str, Any] | None:
    raw = (AccountData.objects.filter(user_id=user_id, room_id=room_id or "", data_type=data_type)
           .values_list("content", flat=True).first())
    return json.loads(raw) if raw is not None else None


def put(user_id: str, room_id: str | None, data_type: str, content: dict[str, Any]) -> int:
    """Store `content` (replacing any previous one); returns the stream position."""
    return update(user_id, room_id, data_type, lambda _old: content)


def update(user_id: str, room_id: str | None, data_type: str,
           change: Callable[[dict[str, Any] | None], dict[str, Any] | None]) -> int | None:
    """Read-modify-write of one row under a row lock: `change(old_content)` returns the new content, or
    None for "nothing to write". Returns the new position, or None when nothing was written."""
    room = room_id or ""
    for _ in range(3):
        try:
            with transaction.atomic():
                row = (AccountData.objects.select_for_update()
                       .filter(user_id=user_id, room_id=room, data_type=data_type)
                       .values_list("id", "content").first())
                new = change(json.loads(row[1]) if row is not None else None)
                if new is None:
                    return None
                text = encode_canonical_json(new).decode()
                position = allocate_position(STREAM)
                if row is not None:
                    AccountData.objects.filter(id=row[0]).update(content=text, stream_id=position)
                else:
                    AccountData.objects.create(user_id=user_id, room_id=room, data_type=data_type,
                                               content=text, stream_id=position)
                on_commit_publish(STREAM, position, [_row(user_id, room, data_type)])
                return position
        except IntegrityError:
            continue  # a concurrent first write of the same row: read it again and apply on top
    raise RuntimeError(f"could not write account data {data_type} of {user_id}")


def _row(user_id: str, room_id: str, data_type: str) -> dict[str, Any]:
    return {"user_id": user_id, "room_id": room_id or None, "type": data_type}


def changed(user_id: str, since: int, up_to: int) -> list[tuple[str, str, dict[str, Any]]]:
    """(room_id or "", type, content) of the user's rows with a position in (since, up_to], in position
    order: one query."""
    rows = (AccountData.objects.filter(user_id=user_id, stream_id__gt=since, stream_id__lte=up_to)
            .order_by("stream_id").values_list("room_id", "data_type", "content"))
    return [(room, t, json.loads(c)) for room, t, c in rows]


def ignored_users(user_id: str) -> frozenset[str]:
    """The users `user_id` ignores (their `m.ignored_user_list`): one indexed read. Callers read it once
    per request and filter with the set, never per event."""
    content = get(user_id, None, IGNORED_USER_LIST)
    ignored = content.get("ignored_users") if isinstance(content, dict) else None
    return frozenset(ignored) if isinstance(ignored, dict) else frozenset()


def fetch_rows(from_pos: int, to_pos: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
    """Stream catch-up: the rows whose latest position is in (from_pos, to_pos]. A row written twice is
    read back once, at its latest position (what a reader needs: whom to wake)."""
    rows = (AccountData.objects.filter(stream_id__gt=from_pos, stream_id__lte=to_pos).order_by("stream_id")
            .values_list("stream_id", "user_id", "room_id", "data_type")[:limit])
    return [(pos, _row(user, room, t)) for pos, user, room, t in rows]
