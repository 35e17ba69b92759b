"""Device-list tracking (spec: client-server API, end-to-end encryption, "Tracking the device list for a
user", and "Extensions to /sync").

Writes: `record_change(user_id, device_ids)` adds rows to the `device_lists` stream in the caller's
transaction, whenever a user's device keys or cross-signing keys change or a device is created or
deleted. Devices live in the accounts app: its Device rows are watched with Django signals, so every
path that creates or deletes a device (login, logout, delete_devices, password change, deactivation,
admin deletion) moves the stream, and a deleted device's keys are deleted in the same transaction. A
rename is seen when it is saved through the model (`save(update_fields=["display_name"])`); a queryset
`update()` sends no signal.

Users of other servers: their servers' `m.device_list_update` and `m.signing_key_update` EDUs are
recorded here too (apps.e2ee.remote_devices), so that local users sharing a room see them in `changed`.
A local user's change is also queued for the other servers in the user's rooms
(apps.e2ee.federation_updates), in the same transaction.

Reads: `changes_between(user_id, since, now)` gives the `changed` and `left` lists of `/sync` and
`/keys/changes`:
- `changed`: users sharing a room with the requester now whose device list moved in (since, now] of the
  `device_lists` stream, the requester themselves when their own devices moved, users who joined one of
  the requester's rooms in (since, now] of the `events` stream, and all members of rooms the requester
  joined in that range (the spec allows a server to report a user even if another room was already
  shared: "for the sake of simpler logic");
- `left`: users who left one of the requester's rooms, or were in a room the requester left, in that
  range, and share no room with the requester any more.
Any shared room counts, not only encrypted ones (as Synapse does): a room can become encrypted at any
time, and a client that tracks a user it does not need costs one `/keys/query`.
"""
from __future__ import annotations

import logging
from typing import Any, Iterable

from django.db import transaction

from apps.streams.replication import allocate_position, on_commit_publish

from . import stores
from .streams import stream_row

logger = logging.getLogger(__name__)

STREAM = "device_lists"


def record_change(user_id: str, device_ids: Iterable[str | None], *, visible_to: str | None = None) -> None:
    """Append to the `device_lists` stream that `user_id`'s devices (`device_ids`; None = cross-signing
    keys) changed. Runs in the caller's transaction when there is one."""
    from hsproject import instance

    devices = list(dict.fromkeys(device_ids))
    if not devices:
        return
    if not instance.writes(STREAM):
        # Rows of this stream are only written by its writer; requests that change keys are routed there
        # (routes.py `writes=`). A device created or deleted on another process is not announced.
        logger.warning("device list change of %s on %s, which does not write %s: not announced", user_id,
                       instance.name(), STREAM)
        return
    with transaction.atomic():
        rooms = [] if visible_to is not None else stores.joined_room_ids(user_id)
        position = allocate_position(STREAM)
        stores.insert_device_list_changes(position, user_id, devices, visible_to)
        if visible_to is None and _is_local(user_id):
            # Other servers in the user's rooms hear of it through the outbox, in this transaction.
            from .federation_updates import queue_updates

            queue_updates(user_id, position, rooms)
        on_commit_publish(STREAM, position, [stream_row(user_id, d, visible_to, rooms) for d in devices])


def _is_local(user_id: str) -> bool:
    from django.conf import settings

    from apps.core.ids import server_name_of

    return server_name_of(user_id) == settings.HS.server_name


# --- devices of the accounts app -----------------------------------------------------------------------------

def _device_user_id(device) -> str | None:
    from apps.accounts.models import User

    try:
        return device.user.user_id
    except User.DoesNotExist:
        return None


def _on_device_saved(sender, instance, created: bool, raw: bool = False, update_fields=None, **kwargs) -> None:
    # A new device, or a display name saved through the model (a login naming an existing device): the
    # name is in other users' /keys/query (`unsigned.device_display_name`).
    renamed = not created and update_fields is not None and "display_name" in update_fields
    if raw or not (created or renamed):
        return
    user_id = _device_user_id(instance)
    if user_id is None:
        return
    if created:
        stores.new_device_key_counts(user_id, instance.device_id)
    record_change(user_id, [instance.device_id])


def _on_device_deleted(sender, instance, **kwargs) -> None:
    user_id = _device_user_id(instance)
    if user_id is None:
        return
    with transaction.atomic():
        stores.delete_device_keys(user_id, [instance.device_id])
        record_change(user_id, [instance.device_id])


def connect_device_signals() -> None:
    from django.db.models.signals import post_delete, post_save

    from apps.accounts.models import Device

    post_save.connect(_on_device_saved, sender=Device, dispatch_uid="e2ee.device_saved")
    post_delete.connect(_on_device_deleted, sender=Device, dispatch_uid="e2ee.device_deleted")


# --- changed / left ------------------------------------------------------------------------------------------

def changes_between(user_id: str, since, now) -> tuple[list[str], list[str]]:
    """(changed, left) between two `StreamToken`s (see the module docstring)."""
    changed: set[str] = set()
    candidates: set[str] = set()
    leaving: set[str] = set()
    for other, visible_to in stores.users_with_device_changes(since.position(STREAM), now.position(STREAM)):
        if visible_to is not None:
            if visible_to == user_id:
                changed.add(other)
        elif other == user_id:
            changed.add(other)
        else:
            candidates.add(other)

    ev_from, ev_to = since.position("events"), now.position("events")
    joined = stores.joined_room_ids(user_id)
    if ev_to > ev_from:
        last: dict[str, str] = {}
        for room_id, _, membership in stores.member_events_between(None, ev_from, ev_to, state_key=user_id):
            last[room_id] = membership
        joined_set = set(joined)
        newly_joined = [r for r, m in last.items() if m == "join" and r in joined_set]
        left_rooms = [r for r, m in last.items() if m in ("leave", "ban") and r not in joined_set]
        candidates |= stores.joined_members(newly_joined)
        leaving |= stores.joined_members(left_rooms)
        for _, other, membership in stores.member_events_between(joined, ev_from, ev_to):
            if membership == "join":
                candidates.add(other)
            elif membership in ("leave", "ban"):
                leaving.add(other)
    candidates.discard(user_id)
    leaving.discard(user_id)
    if not candidates and not leaving:
        return sorted(changed), []
    sharing = stores.users_sharing_rooms(candidates | leaving, joined)
    changed |= candidates & sharing
    return sorted(changed), sorted(leaving - sharing)


# --- /sync ---------------------------------------------------------------------------------------------------

def one_time_key_counts(user_id: str, device_id: str) -> dict[str, int]:
    # Clients read a missing signed_curve25519 count as "unknown" rather than 0 (Synapse always sends it).
    return {"signed_curve25519": 0, **stores.key_counts(user_id, device_id)[0]}


def fill_sync(ctx, response: dict[str, Any]) -> None:
    """`device_one_time_keys_count` and `device_unused_fallback_key_types` of the syncing device (always),
    `device_lists` on an incremental sync."""
    if ctx.device_id is not None:
        counts, unused_fallbacks = stores.key_counts(ctx.user_id, ctx.device_id)
        response["device_one_time_keys_count"] = {"signed_curve25519": 0, **counts}
        response["device_unused_fallback_key_types"] = unused_fallbacks
    if ctx.since is None:
        return
    moved = any(ctx.now.position(s) > ctx.since.position(s) for s in (STREAM, "events"))
    if not moved:
        return
    changed, left = changes_between(ctx.user_id, ctx.since, ctx.now)
    response["device_lists"] = {"changed": changed, "left": left}
