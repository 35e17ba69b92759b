"""Message retention (Synapse's "message retention policies"): which policy a room has, hiding the
events it has expired from clients, and purging them (the `background` queue's periodic
`background.purge_expired_events`, one run per `retention.purge_jobs` entry).

Reads: `drop_expired(events)` is applied by the central visibility filter
(`apps.rooms.visibility.filter_events_for_user`): while retention is enabled a non-state event older
than its room's effective max_lifetime is not served, even before a purge removed it (Synapse
`filter_events_for_client`). State events are exempt: the room's state must stay readable. Cost: one
query per call for all the rooms of the events (none when retention is off or every event is state).
"""
from __future__ import annotations

import logging
import time
from typing import Iterable, Sequence, TypeVar

from django.conf import settings

from . import stores
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
