"""Keeping the statistics up to date: `background.update_room_stats` (every minute, workers/beat.py).

The send path does nothing for statistics (no query, no wake-up). The task reads the `events` stream from
its durable position (`StatsPosition`), one batch at a time, each batch in one transaction that ends by
moving the position, so a killed worker redoes at most one batch and a lost beat only delays the figures:

    position p --(events (p, p'] read, at most EVENTS_PER_BATCH)--> rooms they touch, local users whose
    membership they change --> those rooms' and users' figures computed from current state --> position p'

Figures are recomputed from the current-state tables (`current_state_events`, `room_memberships`) of the
touched rooms rather than summed from per-event deltas: the current state of a room is what state
resolution made of its events (a fork, a late event, a soft-failed or rejected one, an out-of-band
invite), which a running sum over events cannot follow, and a recomputation is a fixed number of grouped
queries per chunk of rooms however many events touched them. Each row records the position it was
computed at (`completed_stream_id`).

A room or a local user without a row (existing before statistics were enabled, or whose row was removed)
has no position: it is computed in full, a chunk per run (`backfill`). A new position row starts at the
present for that reason: everything before it is covered by those full computations.

`stats.enabled: false` stops the task (the rows stay as they were; it catches up from its position when
enabled again). Several workers may run it at once: the position row is locked with SKIP LOCKED, so one
updates and the others return.
"""
from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from . import stores

logger = logging.getLogger(__name__)

EVENTS_PER_BATCH = 1000
ROOMS_PER_CHUNK = 200
USERS_PER_CHUNK = 1000
MAX_BATCHES_PER_RUN = 100


def enabled() -> bool:
    return settings.HS.stats_enabled


def _chunks(items: list[str], size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def recompute_rooms(room_ids: list[str], stream_id: int) -> int:
    """Compute and store the figures of these rooms in full; how many rows were written."""
    written = 0
    for chunk in _chunks(sorted(set(room_ids)), ROOMS_PER_CHUNK):
        figures = stores.room_figures(chunk)
        stores.save_room_stats(figures, stream_id)
        written += len(figures)
    return written


def recompute_users(user_ids: list[str], stream_id: int) -> int:
    users = sorted(set(user_ids))
    for chunk in _chunks(users, USERS_PER_CHUNK):
        stores.save_user_stats(chunk, stream_id)
    return len(users)


def process_batch(up_to: int) -> dict | None:
    """One batch of the stream after the position, in one transaction; None when there is nothing to do
    or another updater holds the position."""
    local_suffix = f":{settings.HS.server_name}"
    with transaction.atomic():
        position = stores.lock_position()
        if position is None or position >= up_to:
            return None
        rows = stores.events_after(position, up_to, EVENTS_PER_BATCH)
        end = rows[-1][0] if len(rows) == EVENTS_PER_BATCH else up_to
        rooms = {room_id for _, room_id, _, _ in rows}
        users = {skey for _, _, etype, skey in rows
                 if etype == "m.room.member" and skey is not None and skey.endswith(local_suffix)}
        recompute_rooms(list(rooms), end)
        recompute_users(list(users), end)
        stores.set_position(end)
    return {"events": len(rows), "rooms": len(rooms), "users": len(users), "position": end}


def backfill(stream_id: int, *, rooms_limit: int = ROOMS_PER_CHUNK, users_limit: int = USERS_PER_CHUNK) -> dict:
    """Full computation of one chunk of the rooms and one of the local users that have no row yet."""
    with transaction.atomic():
        rooms = recompute_rooms(stores.rooms_without_stats(rooms_limit), stream_id)
        users = recompute_users(stores.local_users_without_stats(users_limit), stream_id)
    return {"rooms": rooms, "users": users}


def update_room_stats(*, max_batches: int = MAX_BATCHES_PER_RUN) -> dict:
    """`background.update_room_stats`: process the events after the position (at most `max_batches`
    batches; the next run continues), then compute rooms and users never computed."""
    if not enabled():
        return {"skipped": "stats.enabled is false"}
    up_to = stores.persisted_up_to()
    stores.ensure_position(up_to)
    out = {"events": 0, "rooms": 0, "users": 0, "batches": 0}
    position = None
    for _ in range(max_batches):
        done = process_batch(up_to)
        if done is None:
            break
        out["batches"] += 1
        for key in ("events", "rooms", "users"):
            out[key] += done[key]
        position = done["position"]
        if position >= up_to:
            break
    if position is None:
        position = stores.get_position() or up_to
    filled = backfill(position)
    out["rooms_computed_in_full"], out["users_computed_in_full"] = filled["rooms"], filled["users"]
    out["position"] = position
    if out["events"] or filled["rooms"] or filled["users"]:
        logger.info("room statistics: %s", out)
    return out
