"""Every query of the remote device-list cache (see models.py)."""
from __future__ import annotations

import json
from typing import Any, Iterable

from canonicaljson import encode_canonical_json
from django.db.models import F

from .models import RemoteDeviceList


def cached(user_ids: Iterable[str], fetched_after_ms: int) -> dict[str, dict[str, Any]]:
    """user_id -> cached answer, for those of `user_ids` with one fetched after `fetched_after_ms`."""
    users = list(user_ids)
    if not users:
        return {}
    rows = RemoteDeviceList.objects.filter(user_id__in=users, keys_json__isnull=False,
                                           fetched_ms__gt=fetched_after_ms).values_list("user_id", "keys_json")
    return {u: json.loads(raw) for u, raw in rows}


def generations(user_ids: Iterable[str]) -> dict[str, int]:
    """The current generation of each user, their row made if there was none: read BEFORE fetching, so
    that an invalidation arriving while the fetch is under way is seen by `save_if_unchanged`."""
    users = list(user_ids)
    if not users:
        return {}
    RemoteDeviceList.objects.bulk_create([RemoteDeviceList(user_id=u) for u in users], ignore_conflicts=True)
    return dict(RemoteDeviceList.objects.filter(user_id__in=users).values_list("user_id", "generation"))


def save_if_unchanged(user_id: str, generation: int, answer: dict[str, Any], now_ms: int) -> bool:
    """Store a fetched answer unless the user was invalidated since `generation` was read."""
    return RemoteDeviceList.objects.filter(user_id=user_id, generation=generation).update(
        keys_json=encode_canonical_json(answer).decode(), fetched_ms=now_ms) == 1


def invalidate(user_ids: Iterable[str]) -> int:
    """Forget what is held for these users; how many rows there were."""
    users = list(user_ids)
    if not users:
        return 0
    return RemoteDeviceList.objects.filter(user_id__in=users).update(
        generation=F("generation") + 1, keys_json=None, fetched_ms=None)
