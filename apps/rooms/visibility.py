"""Which events a user may read: "Room History Visibility" (client-server API, modules/history_visibility.md).

`filter_events_for_user(user_id, events)` keeps, in order, the events the user may see. The rules
are applied with the room's state *at each event* (its state group before the event):

  1. `world_readable` at the event: allow (anyone, member or not);
  2. the user's membership at the event was `join`: allow;
  3. `shared` at the event, and the user joined the room at some point after it: allow;
  4. the user's membership at the event was `invite` and `invited` at the event: allow;
  5. otherwise deny.

A missing or unknown `history_visibility` is `shared`. For a `m.room.history_visibility` event and
for the user's own `m.room.member` events, the state before *or* after the event may allow it.
A room the user forgot (POST /forget) shows them nothing but `world_readable` events. Rejected and
soft-failed events, and events without state (outliers), are never shown.

Cost: a bounded number of queries whatever the number of events or state groups: the events' state
groups, one recursive query reading only the two keys that matter (history visibility and the user's
member event) over all the groups' delta chains, the events those keys name, and the user's member
events of the rooms (for rule 3 and /forget).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Iterable, Sequence

from django.db import connection

from . import state_store, stores
from .events import Event
from .models import EventRow, RoomMembership, StateGroup, StateGroupState

HV_KEY = ("m.room.history_visibility", "")
_VALUES = ("world_readable", "shared", "invited", "joined")


def _keys_at_groups(groups: Iterable[int], user_id: str) -> dict[int, dict[tuple[str, str], str]]:
    """group -> {HV_KEY: event_id, (m.room.member, user_id): event_id} (keys absent when unset)."""
    groups = sorted(set(groups))
    if not groups:
        return {}
    placeholders = ",".join(["%s"] * len(groups))
    sg, sgs = StateGroup._meta.db_table, StateGroupState._meta.db_table
    sql = f"""
        WITH RECURSIVE chain(start, id, prev, n) AS (
            SELECT id, id, prev_group_id, 0 FROM {sg} WHERE id IN ({placeholders})
            UNION ALL
            SELECT c.start, g.id, g.prev_group_id, c.n + 1 FROM {sg} g JOIN chain c ON g.id = c.prev
             WHERE c.n < %s
        )
        SELECT c.start, c.n, s.type, s.state_key, s.event_id
          FROM chain c JOIN {sgs} s ON s.state_group_id = c.id
         WHERE (s.type = %s AND s.state_key = %s) OR (s.type = %s AND s.state_key = %s)
    """
    params = [*groups, state_store.MAX_DELTA_CHAIN + 1, HV_KEY[0], HV_KEY[1], "m.room.member", user_id]
    nearest: dict[tuple[int, str, str], tuple[int, str | None]] = {}
    with connection.cursor() as cur:
        cur.execute(sql, params)
        for start, n, t, sk, eid in cur.fetchall():
            key = (start, t, sk)
            if key not in nearest or n < nearest[key][0]:
                nearest[key] = (n, eid)  # the nearest delta wins; NULL: the key was removed
    out: dict[int, dict[tuple[str, str], str]] = {g: {} for g in groups}
    for (start, t, sk), (_, eid) in nearest.items():
        if eid is not None:
            out[start][(t, sk)] = eid
    return out


def _joins_and_forgotten(user_id: str, room_ids: set[str]) -> tuple[dict[str, int], set[str]]:
    """room -> stream ordering of the user's last join there; the rooms the user forgot."""
    last_join: dict[str, int] = {}
    rows = (EventRow.objects.filter(room_id__in=room_ids, type="m.room.member", state_key=user_id, outlier=False,
                                    soft_failed=False, rejected_reason__isnull=True)
            .values_list("room_id", "stream_ordering", "json"))
    import json

    for room_id, so, raw in rows:
        if so is None:
            continue
        try:
            membership = json.loads(raw).get("content", {}).get("membership")
        except (ValueError, AttributeError):
            continue
        if membership == "join" and so > last_join.get(room_id, -1):
            last_join[room_id] = so
    forgotten = set(RoomMembership.objects.filter(user_id=user_id, room_id__in=room_ids, forgotten=True)
                    .values_list("room_id", flat=True))
    return last_join, forgotten


def filter_events_for_user(user_id: str, events: Sequence[Event]) -> list[Event]:
    """The events of `events` that `user_id` may see, in the same order."""
    candidates = [e for e in events if not e.rejected and not e.internal.soft_failed]
    # Message retention (apps.retention, Synapse's filter_events_for_client): a non-state event older than
    # its room's effective max_lifetime is not served, even before the purge removes it. No query while
    # retention is off; else one for all the events' rooms.
    from apps.retention.handlers import drop_expired

    candidates = drop_expired(candidates)
    if not candidates:
        return []
    groups = state_store.groups_for_events([e.event_id for e in candidates])
    member_key = ("m.room.member", user_id)

    def needs_after(e: Event) -> bool:
        return e.state_pair in (HV_KEY, member_key)

    wanted_groups: set[int] = set()
    for e in candidates:
        g = groups.get(e.event_id)
        if g is None:
            continue
        if g[1] is not None:
            wanted_groups.add(g[1])
        if needs_after(e):
            wanted_groups.add(g[0])
    keys = _keys_at_groups(wanted_groups, user_id)
    key_events = stores.get_events({eid for m in keys.values() for eid in m.values()})
    last_join, forgotten = _joins_and_forgotten(user_id, {e.room_id for e in candidates})

    def at(group: int | None) -> tuple[str, str | None]:
        state = keys.get(group, {}) if group is not None else {}
        hv_ev = key_events.get(state.get(HV_KEY, ""))
        hv = hv_ev.content.get("history_visibility") if hv_ev is not None else None
        mem_ev = key_events.get(state.get(member_key, ""))
        return (hv if hv in _VALUES else "shared"), (mem_ev.membership if mem_ev is not None else None)

    def allowed(e: Event, hv: str, membership: str | None) -> bool:
        if hv == "world_readable":
            return True
        if e.room_id in forgotten:
            return False
        if membership == "join":
            return True
        if hv == "shared" and last_join.get(e.room_id, -1) > (e.internal.stream_ordering or 0):
            return True
        return membership == "invite" and hv == "invited"

    out = []
    for e in candidates:
        g = groups.get(e.event_id)
        if g is None:
            continue  # an outlier: not part of the timeline
        if allowed(e, *at(g[1])) or (needs_after(e) and allowed(e, *at(g[0]))):
            out.append(e)
    return out


def is_world_readable_now(room_id: str) -> bool:
    """Whether the room's current history visibility is `world_readable` (non-members may read it)."""
    hv_id = state_store.current_state(room_id, [HV_KEY]).get(HV_KEY)
    hv = stores.get_event(hv_id) if hv_id else None
    return hv is not None and hv.content.get("history_visibility") == "world_readable"


def visible_by_room(user_id: str, events: Sequence[Event]) -> dict[str, list[Event]]:
    """`filter_events_for_user`, grouped by room (for callers serving several rooms)."""
    out: dict[str, list[Event]] = defaultdict(list)
    for e in filter_events_for_user(user_id, events):
        out[e.room_id].append(e)
    return dict(out)
