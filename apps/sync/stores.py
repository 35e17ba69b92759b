"""Every query of the sync app: stored filters, and the reads of `/sync` over the rooms tables.

Reads of the events stream are bounded above by the position the caller passes (the process's
persisted-up-to position of `events`, DESIGN section 4), never by "whatever is in the table": an event
committed later with a smaller position than one already returned would otherwise be skipped.
Only timeline events are returned (not outliers, rejected or soft-failed events).
"""
from __future__ import annotations

import json
from typing import Iterable

from canonicaljson import encode_canonical_json
from django.db import IntegrityError, transaction
from django.db.models import Max, Q

from apps.rooms import stores as room_stores
from apps.rooms.events import Event
from apps.rooms.models import EventRow, RoomMembership

from .models import UserFilter

# --- filters -------------------------------------------------------------------------------------------


def store_filter(user_id: str, filter_obj: dict) -> str:
    """The id of `filter_obj` for `user_id`: its existing id when the same filter was stored before."""
    text = encode_canonical_json(filter_obj).decode()
    for _ in range(5):
        existing = (UserFilter.objects.filter(user_id=user_id, filter_json=text)
                    .values_list("filter_id", flat=True).first())
        if existing is not None:
            return str(existing)
        try:
            with transaction.atomic():
                top = UserFilter.objects.filter(user_id=user_id).aggregate(m=Max("filter_id"))["m"]
                row = UserFilter.objects.create(user_id=user_id, filter_id=(top if top is not None else -1) + 1,
                                                filter_json=text)
            return str(row.filter_id)
        except IntegrityError:  # a concurrent upload took the id: try again
            continue
    raise RuntimeError("could not allocate a filter id")


def get_filter(user_id: str, filter_id: int) -> dict | None:
    text = (UserFilter.objects.filter(user_id=user_id, filter_id=filter_id)
            .values_list("filter_json", flat=True).first())
    return json.loads(text) if text is not None else None


# --- memberships -----------------------------------------------------------------------------------------

_VISIBLE = Q(outlier=False, rejected_reason__isnull=True, soft_failed=False)


def memberships_at(user_id: str, up_to: int) -> dict[str, tuple[str, str, int]]:
    """room_id -> (membership, event_id, stream_ordering) of the user's membership as of position
    `up_to` (the current membership row, or the member event before it when the row moved on since)."""
    out: dict[str, tuple[str, str, int]] = {}
    later: list[str] = []
    for room_id, membership, event_id, pos in RoomMembership.objects.filter(user_id=user_id).values_list(
            "room_id", "membership", "event_id", "stream_ordering"):
        if pos <= up_to:
            out[room_id] = (membership, event_id, pos)
        else:
            later.append(room_id)
    for room_id in later:
        row = (EventRow.objects.filter(_VISIBLE, room_id=room_id, type="m.room.member", state_key=user_id,
                                       stream_ordering__lte=up_to)
               .order_by("-stream_ordering").values_list("event_id", "stream_ordering", "json").first())
        if row is not None:
            m = json.loads(row[2]).get("content", {}).get("membership")
            out[room_id] = (m if isinstance(m, str) else "leave", row[0], row[1])
    return out


def membership_changes(user_id: str, since: int, up_to: int) -> dict[str, list[tuple[str, str, int]]]:
    """room_id -> [(membership, event_id, stream_ordering)] of the user's member events in (since, up_to]."""
    out: dict[str, list[tuple[str, str, int]]] = {}
    # Out-of-band memberships (remote invites to rooms we are not in) are outliers with a position.
    oob = Q(outlier=True, stream_ordering__isnull=False, rejected_reason__isnull=True)
    rows = (EventRow.objects.filter(_VISIBLE | oob, type="m.room.member", state_key=user_id,
                                    stream_ordering__gt=since, stream_ordering__lte=up_to)
            .order_by("stream_ordering").values_list("room_id", "event_id", "stream_ordering", "json"))
    for room_id, event_id, pos, raw in rows:
        m = json.loads(raw).get("content", {}).get("membership")
        out.setdefault(room_id, []).append((m if isinstance(m, str) else "leave", event_id, pos))
    return out


def rooms_with_events(room_ids: Iterable[str], since: int, up_to: int) -> set[str]:
    """Which of `room_ids` have a timeline event in (since, up_to]."""
    ids = list(room_ids)
    if not ids or up_to <= since:
        return set()
    return set(EventRow.objects.filter(_VISIBLE, room_id__in=ids, stream_ordering__gt=since,
                                       stream_ordering__lte=up_to).values_list("room_id", flat=True).distinct())


# --- timeline and state ----------------------------------------------------------------------------------

def timeline(room_id: str, since: int, up_to: int, limit: int, allows=None, keep=None) -> tuple[list[Event], bool]:
    """The last `limit` timeline events of the room in (since, up_to] that `allows(event)` (all when None)
    and that `keep(events)` keeps (a batch filter: history visibility), oldest first, and whether more
    such events were left out (`limited`)."""
    picked: list[Event] = []
    upper = up_to
    batch = max(limit + 1, 20) if allows is not None or keep is not None else limit + 1
    while len(picked) <= limit and upper > since:
        ids = list(EventRow.objects.filter(_VISIBLE, room_id=room_id, stream_ordering__gt=since,
                                           stream_ordering__lte=upper)
                   .order_by("-stream_ordering").values_list("event_id", "stream_ordering")[:batch])
        if not ids:
            break
        events = room_stores.get_events(eid for eid, _ in ids)
        page = [events[eid] for eid, _ in ids if eid in events and (allows is None or allows(events[eid]))]
        if keep is not None and page:
            page = keep(page)
        for ev in page:
            picked.append(ev)
            if len(picked) > limit:
                break
        if len(ids) < batch:
            break
        upper = ids[-1][1] - 1
    limited = len(picked) > limit
    picked = picked[:limit]
    picked.reverse()
    return picked, limited


def last_event_at(room_id: str, up_to: int) -> str | None:
    """The room's last timeline event at or below position `up_to` (whose state is the room's state there)."""
    return (EventRow.objects.filter(_VISIBLE, room_id=room_id, stream_ordering__lte=up_to)
            .order_by("-stream_ordering").values_list("event_id", flat=True).first())


def member_summary(room_id: str, user_id: str, up_to: int | None = None,
                   heroes: int = 5) -> tuple[int, int, list[str]]:
    """(joined count, invited count, heroes) as of position `up_to` (now when None): up to `heroes` other
    members, joined and invited first (the spec's `m.heroes`), else those who left, in membership order.

    The current membership rows, except those that moved past `up_to`: for those users, their member
    event at or before `up_to` (one more query, only when there are such rows), so a `/sync` answering at
    a token never counts a join committed after it."""
    current = list(RoomMembership.objects.filter(room_id=room_id).order_by("stream_ordering")
                   .values_list("user_id", "membership", "stream_ordering"))
    if up_to is not None and any(pos > up_to for _, _, pos in current):
        later = [u for u, _, pos in current if pos > up_to]
        before: dict[str, tuple[str, int]] = {}
        for member, pos, raw in (EventRow.objects.filter(_VISIBLE, room_id=room_id, type="m.room.member",
                                                         state_key__in=later, stream_ordering__lte=up_to)
                                 .order_by("-stream_ordering").values_list("state_key", "stream_ordering", "json")):
            if member not in before:
                m = json.loads(raw).get("content", {}).get("membership")
                before[member] = (m if isinstance(m, str) else "leave", pos)
        current = [r for r in current if r[2] <= up_to] + [(u, m, pos) for u, (m, pos) in before.items()]
        current.sort(key=lambda r: r[2])
    rows = [(u, m) for u, m, _ in current]
    joined = sum(1 for _, m in rows if m == "join")
    invited = sum(1 for _, m in rows if m == "invite")
    others = [u for u, m in rows if m in ("join", "invite") and u != user_id]
    if not others:
        others = [u for u, m in rows if m in ("leave", "ban") and u != user_id]
    return joined, invited, others[:heroes]


def room_events(room_ids: Iterable[str], member_user_id: str | None, since: int, up_to: int,
                limit: int) -> list[Event]:
    """The first `limit` timeline events in (since, up_to] of `room_ids`, plus the member events of
    `member_user_id` in any room (an invite, a ban), oldest first (`/events`)."""
    ids = list(room_ids)
    if up_to <= since or (not ids and member_user_id is None):
        return []
    where = Q(room_id__in=ids)
    if member_user_id is not None:
        where |= Q(type="m.room.member", state_key=member_user_id)
    rows = list(EventRow.objects.filter(_VISIBLE, where, stream_ordering__gt=since, stream_ordering__lte=up_to)
                .order_by("stream_ordering").values_list("event_id", flat=True)[:limit])
    events = room_stores.get_events(rows)
    return [events[eid] for eid in rows if eid in events]
