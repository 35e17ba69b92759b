"""Message retention (Synapse's "message retention policies"): which policy a room has, hiding the
events it has expired from clients, and purging them (the `background` queue's periodic
`background.purge_expired_events`, one run per `retention.purge_jobs` entry).

Reads: `drop_expired(events)` is applied by the central visibility filter
(`apps.rooms.visibility.filter_events_for_user`): while retention is enabled a non-state event older
than its room's effective max_lifetime is not served, even before a purge removed it (Synapse
`filter_events_for_client`). State events are exempt: the room's state must stay readable. Cost: one
query per call for all the rooms of the events (none when retention is off or every event is state).

Purges: `purge_expired(job_index)` runs one `retention.purge_jobs` entry (Synapse
`PaginationHandler.purge_history_for_rooms_in_range`): for every room whose effective max_lifetime lies in
the job's range (`policy.in_job_range`), the room's history before now - max_lifetime is purged with
`apps.rooms.purge.purge_history`, local events included (retention applies to what our users wrote too).
The cut is the last event this server *received* before that time (`purge.point_at_ts`, as Synapse): a
sender's `origin_server_ts` cannot move it, and that last event is kept, as are state events (they leave
the timeline), forward extremities and the newest event, so the room stays usable. A purge is idempotent
and locks the room per batch, so runs that overlap, or a run killed midway and run again, are harmless.
"""
from __future__ import annotations

import logging
import time
from typing import Iterable, Sequence, TypeVar

from django.conf import settings

from . import stores
from hsproject.config.sections import RetentionPurgeJob

from .policy import RetentionPolicy, effective_policy, expired, in_job_range

logger = logging.getLogger(__name__)

E = TypeVar("E")


def now_ms() -> int:
    return int(time.time() * 1000)


def effective_policies(room_ids: Iterable[str]) -> dict[str, RetentionPolicy]:
    """room -> its effective policy (the server's default where the room states none)."""
    config = settings.HS.retention
    room_ids = set(room_ids)
    stated = stores.room_rules(room_ids)
    return {r: effective_policy(stated.get(r), config) for r in room_ids}


def drop_expired(events: Sequence[E]) -> list[E] | Sequence[E]:
    """`events` without the non-state events their room's policy has expired (in order)."""
    if not settings.HS.retention.enabled:
        return events
    rooms = {e.room_id for e in events if not e.is_state()}
    if not rooms:
        return events
    policies = effective_policies(rooms)
    now = now_ms()
    return [e for e in events
            if e.is_state() or not expired(e.origin_server_ts, policies[e.room_id].max_lifetime, now)]


def rooms_for_job(job: RetentionPurgeJob) -> dict[str, int]:
    """room -> effective max_lifetime, for the rooms `job` purges."""
    config = settings.HS.retention
    stated = stores.all_room_rules()
    out: dict[str, int] = {}
    for room_id, policy in stated.items():
        lifetime = effective_policy(policy, config).max_lifetime
        if in_job_range(lifetime, job):
            out[room_id] = lifetime
    default = effective_policy(None, config).max_lifetime
    if in_job_range(default, job):
        # Only then is every room without a policy of its own read (Synapse's `include_null`).
        out.update({r: default for r in stores.all_room_ids() if r not in stated})
    return out


def purge_expired(job_index: int) -> dict:
    """Run purge job `job_index` of `retention.purge_jobs`; what it did, per room purged."""
    from apps.core.errors import MatrixError
    from apps.rooms.purge import point_at_ts, purge_history

    config = settings.HS.retention
    if not config.enabled:
        return {"skipped": "retention is disabled"}
    if not 0 <= job_index < len(config.purge_jobs):
        # A schedule older than the configuration names a job that is gone.
        return {"skipped": f"no purge job {job_index}"}
    now = now_ms()
    purged: dict[str, dict] = {}
    failed: list[str] = []
    for room_id, max_lifetime in sorted(rooms_for_job(config.purge_jobs[job_index]).items()):
        try:
            point = point_at_ts(room_id, now - max_lifetime)
        except MatrixError:
            continue  # nothing received before the cut
        try:
            result = purge_history(room_id, point, delete_local_events=True)
        except Exception:  # one room's failure must not keep the others' history; the next run retries it
            logger.exception("retention purge of %s failed", room_id)
            failed.append(room_id)
            continue
        if result.deleted or result.hidden:
            purged[room_id] = result.as_dict()
    out: dict = {"job": job_index, "purged": purged}
    if failed:
        out["failed"] = failed
    return out
