"""Periodic clean-up of the accounts tables, run by the `background` queue (workers/background.py):

- `expire_tokens_and_sessions` (`background.expire_tokens`): expired access/refresh tokens and abandoned
  user-interactive auth sessions.
- `delete_stale_devices` (`background.delete_stale_devices`): with `delete_stale_devices_after` set,
  devices not seen for that long (never seen: created that long ago) are deleted exactly as a client's
  `POST /delete_devices` deletes them (`lifecycle.delete_devices`): their access and refresh tokens go
  by cascade, and the Device signals remove the device's to-device inbox (apps.to_device.cleanup), its
  pushers (apps.push.signals) and its end-to-end keys, and append to the `device_lists` stream so the
  clients of users sharing a room learn that it is gone (apps.e2ee.device_lists).

  The `device_lists` stream is written by main only (Synapse runs this job on main for the same reason:
  "workers currently not having the ability to delete devices"). On any other instance, a Celery
  `background` worker in a scaled deployment, the job is forwarded to the writer over internal
  replication HTTP (`/_hs/replication/accounts/delete_stale_devices`, apps.accounts.views_replication),
  one bounded batch per call, so no device is deleted without its device-list change being announced.

  Devices of users that belong to an application service (`User.appservice_id`: the service's sender and
  the users it registered) are never deleted: a bridge's devices are used through the service's token
  (`as_token`, device masquerading), which does not move their last-seen time, and pruning them breaks
  the bridge's end-to-end encryption (element-hq/synapse#18161). Their lifetime is the service's business.
"""
from __future__ import annotations

import datetime
import logging
import time

from django.conf import settings
from django.db.models import Q

from .models import AccessToken, Device, RefreshToken, UIASession, User
from .uia import SESSION_LIFETIME_MS

logger = logging.getLogger(__name__)

# An expired refreshable access token is kept a while so the client sees soft_logout, not a hard one.
EXPIRED_ACCESS_TOKEN_GRACE_MS = 7 * 24 * 3600 * 1000

# Devices deleted per batch (one transaction per user of the batch); a run handles batches until none is left.
STALE_DEVICES_BATCH = 200
# Batches per run at most: a run that leaves work behind is continued by the next (hourly) run.
STALE_DEVICES_MAX_BATCHES = 50
DEVICE_LISTS_STREAM = "device_lists"
REPLICATION_STALE_DEVICES_PATH = "/accounts/delete_stale_devices"


def _now_ms() -> int:
    return int(time.time() * 1000)


def expire_tokens_and_sessions(now_ms: int | None = None) -> dict:
    now = now_ms if now_ms is not None else _now_ms()
    access, _ = AccessToken.objects.filter(valid_until_ms__lt=now - EXPIRED_ACCESS_TOKEN_GRACE_MS,
                                           refresh_token__isnull=True).delete()
    refresh, _ = RefreshToken.objects.filter(
        Q(expiry_ts__lt=now) | Q(ultimate_session_expiry_ts__lt=now)).delete()
    uia, _ = UIASession.objects.filter(created_ts__lt=now - SESSION_LIFETIME_MS).delete()
    return {"access_tokens": access, "refresh_tokens": refresh, "uia_sessions": uia}


# --- stale devices -----------------------------------------------------------------------------------------

def stale_devices_query(cutoff_ms: int):
    """Devices last seen before `cutoff_ms`, or never seen and created before it; never those of an
    application service's users (see the module docstring)."""
    created_before = datetime.datetime.fromtimestamp(cutoff_ms / 1000, tz=datetime.timezone.utc)
    return (Device.objects.filter(Q(last_seen_ts__lt=cutoff_ms) | Q(last_seen_ts__isnull=True,
                                                                    created_at__lt=created_before))
            .filter(user__appservice_id__isnull=True))


def delete_stale_devices_batch(cutoff_ms: int, limit: int = STALE_DEVICES_BATCH) -> int:
    """Delete at most `limit` stale devices on this instance (which must write `device_lists`); how many."""
    from .lifecycle import delete_devices

    rows = list(stale_devices_query(cutoff_ms).order_by("pk").values_list("user_id", "device_id")[:limit])
    by_user: dict[int, list[str]] = {}
    for user_pk, device_id in rows:
        by_user.setdefault(user_pk, []).append(device_id)
    for user in User.objects.filter(pk__in=list(by_user)):
        # The same function as a client's device deletion: tokens, inbox, pushers, keys, device-list change.
        delete_devices(user, by_user[user.pk])
    return len(rows)


def delete_stale_devices(now_ms: int | None = None, *, batch_size: int = STALE_DEVICES_BATCH,
                         max_batches: int = STALE_DEVICES_MAX_BATCHES) -> dict:
    """`background.delete_stale_devices`: delete the devices `delete_stale_devices_after` makes stale,
    here when this instance writes `device_lists`, else on its writer (one batch per call)."""
    after = settings.HS.delete_stale_devices_after_ms
    if after is None:
        return {"skipped": "delete_stale_devices_after is not set"}
    from hsproject import instance

    cutoff = (now_ms if now_ms is not None else _now_ms()) - after
    local = instance.writes(DEVICE_LISTS_STREAM)
    deleted = batches = 0
    while batches < max_batches:
        batches += 1
        if local:
            n = delete_stale_devices_batch(cutoff, batch_size)
        else:
            n = _delete_batch_on_writer(instance.writers_of(DEVICE_LISTS_STREAM)[0], cutoff, batch_size)
        deleted += n
        if n < batch_size:
            break
    if deleted:
        logger.info("deleted %d device(s) not seen for %d ms", deleted, after)
    return {"deleted": deleted, "batches": batches}


def _delete_batch_on_writer(writer: str, cutoff_ms: int, batch_size: int) -> int:
    from apps.core.errors import Codes, MatrixError
    from apps.streams.replication_http import call_instance

    answer = call_instance(writer, REPLICATION_STALE_DEVICES_PATH, {"cutoff_ms": cutoff_ms, "limit": batch_size})
    deleted = answer.get("deleted")
    if not isinstance(deleted, int) or isinstance(deleted, bool):
        raise MatrixError(Codes.UNKNOWN, "The device_lists writer gave no count", 502)
    # No read-after-write wait: nothing here reads what the writer wrote.
    return deleted
