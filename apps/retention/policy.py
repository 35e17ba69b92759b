"""Message retention policies (`m.room.retention`, MSC1763, as Synapse implements them): pure rules,
no database.

- `parse_content(content)`: the policy an `m.room.retention` event states, or None when the event is
  to be ignored: neither `min_lifetime` nor `max_lifetime` present, or one of them present and not an
  integer (Synapse `_store_retention_policy_for_room_txn`; a room whose current retention event is
  ignored falls back to the server's default, not to an older event).
- `effective_policy(room, config)`: the room's values, each missing one taken from the server's
  `retention.default_policy`; then `max_lifetime` clamped into [`allowed_lifetime_min`,
  `allowed_lifetime_max`] (Synapse applies the same clamp when purging: the operator may be bound to keep
  data at least so long, or to delete it after so long). No max_lifetime at all: nothing expires.
- `in_job_range(max_lifetime, job)`: whether a purge job handles a room: shortest < max_lifetime <=
  longest, Synapse's bounds (`get_rooms_for_retention_period_in_range`), so that jobs configured back to
  back (`longest_max_lifetime: 3d`, then `shortest_max_lifetime: 3d`) each take a room exactly once.
- `expired(origin_server_ts, max_lifetime, now)`: older than now - max_lifetime (Synapse
  `filter_events_for_client`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hsproject.config.sections import RetentionConfig, RetentionPurgeJob

EVENT_TYPE = "m.room.retention"
KEYS = ("min_lifetime", "max_lifetime")
# Canonical JSON's integer range: wider values cannot come in a valid event, and must not reach a column.
_INT_LIMIT = 2 ** 53 - 1


@dataclass(frozen=True)
class RetentionPolicy:
    min_lifetime: int | None = None
    max_lifetime: int | None = None


def _is_int(value: Any) -> bool:
    # `type(...) is int`, as Synapse: a bool is not a lifetime, nor is 1.0.
    return type(value) is int and -_INT_LIMIT <= value <= _INT_LIMIT


def parse_content(content: Any) -> RetentionPolicy | None:
    """The policy of an `m.room.retention` event's content; None: the event is ignored."""
    if not isinstance(content, dict) or not any(k in content for k in KEYS):
        return None
    if any(k in content and not _is_int(content[k]) for k in KEYS):
        return None
    return RetentionPolicy(content.get("min_lifetime"), content.get("max_lifetime"))


def effective_policy(room: RetentionPolicy | None, config: RetentionConfig) -> RetentionPolicy:
    """The policy that applies to a room whose current retention event states `room` (None: no valid
    one), under `config` (whether retention is enabled is the caller's business)."""
    min_lifetime = room.min_lifetime if room is not None else None
    max_lifetime = room.max_lifetime if room is not None else None
    if min_lifetime is None:
        min_lifetime = config.default_min_lifetime_ms
    if max_lifetime is None:
        max_lifetime = config.default_max_lifetime_ms
    if max_lifetime is not None:
        if config.allowed_lifetime_min_ms is not None:
            max_lifetime = max(max_lifetime, config.allowed_lifetime_min_ms)
        if config.allowed_lifetime_max_ms is not None:
            max_lifetime = min(max_lifetime, config.allowed_lifetime_max_ms)
    return RetentionPolicy(min_lifetime, max_lifetime)


def in_job_range(max_lifetime: int | None, job: RetentionPurgeJob) -> bool:
    """Whether `job` purges a room whose effective max_lifetime is `max_lifetime`."""
    if max_lifetime is None:
        return False
    if job.shortest_max_lifetime_ms is not None and max_lifetime <= job.shortest_max_lifetime_ms:
        return False
    return job.longest_max_lifetime_ms is None or max_lifetime <= job.longest_max_lifetime_ms


def expired(origin_server_ts: int, max_lifetime: int | None, now_ms: int) -> bool:
    """Whether an event sent at `origin_server_ts` is past a `max_lifetime` at `now_ms`."""
    return max_lifetime is not None and origin_server_ts < now_ms - max_lifetime
