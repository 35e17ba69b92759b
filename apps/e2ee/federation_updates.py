"""Telling other servers that a local user's devices changed (spec: server-server API, "Device Management"
and "End-to-End Encryption": `m.device_list_update` and `m.signing_key_update` EDUs).

`queue_updates` runs inside `device_lists.record_change`, in the transaction that writes the change, for a
local user's change that others may see: the EDUs go into the federation sender's durable outbox
(apps.federation_sender) for every other server with a member joined to one of the user's rooms, and the
destinations are woken after the commit. So an update is queued exactly when the change commits, and a
restart or a lost wake-up delays it, never loses it.

- A device created, renamed, given keys or new signatures, or deleted: one `m.device_list_update` per
  device, with the device's keys (its owner's signatures merged, as `/keys/query` shows them) and display
  name, or `deleted: true`. Its `stream_id` is the id of the device's row in the `device_lists` table, so
  each EDU of a user has its own (several devices changed at once share a stream position, not an id);
  `prev_id` names the user's previous device row, so the EDUs of a user form one chain and a server that
  missed one resyncs through `GET /user/devices` (whose `stream_id` is the last id of the chain).
- Cross-signing keys (or the owner's signatures of their master key) changed: one `m.signing_key_update`
  with the current master and self-signing keys; a newer one replaces one still pending.
Device-list EDUs are never merged: a server that lost one in the chain has to resync.
"""
from __future__ import annotations

from typing import Any, Iterable

from django.conf import settings
from django.db import transaction

from . import stores

DEVICE_LIST_UPDATE = "m.device_list_update"
SIGNING_KEY_UPDATE = "m.signing_key_update"


def _destinations(room_ids: Iterable[str]) -> set[str]:
    from apps.core.outbound import federation_allowed
    from apps.federation_sender import stores as outbox

    servers = set().union(*outbox.rooms_joined_servers(room_ids).values()) if room_ids else set()
    return {s for s in servers if s and s != settings.HS.server_name and federation_allowed(s)}


def build_edus(user_id: str, position: int) -> list[tuple[str, dict[str, Any], str | None]]:
    """(edu_type, content, coalesce key) of the changes of `user_id` written at `position`."""
    from .handlers import local_keys

    changes = stores.device_changes_at(user_id, position)
    if not changes:
        return []
    device_ids = [d for _, d in changes if d is not None]
    keys = local_keys({user_id: device_ids}, viewer=None)
    edus: list[tuple[str, dict[str, Any], str | None]] = []
    if device_ids:
        names = {d: n for (_, d), n in stores.devices_of_users([user_id]).items()}
        device_keys = keys["device_keys"].get(user_id, {})
        first = next(pk for pk, d in changes if d is not None)
        prev = stores.last_device_update_id(user_id, before=first)
        for pk, device_id in changes:
            if device_id is None:
                continue
            content: dict[str, Any] = {"user_id": user_id, "device_id": device_id, "stream_id": pk,
                                       "prev_id": [prev] if prev else [], "deleted": device_id not in names}
            if device_id in names:
                if names[device_id]:
                    content["device_display_name"] = names[device_id]
                if device_id in device_keys:
                    content["keys"] = {k: v for k, v in device_keys[device_id].items() if k != "unsigned"}
            edus.append((DEVICE_LIST_UPDATE, content, None))
            prev = pk
    if any(d is None for _, d in changes):
        content = {"user_id": user_id}
        if user_id in keys["master_keys"]:
            content["master_key"] = keys["master_keys"][user_id]
        if user_id in keys["self_signing_keys"]:
            content["self_signing_key"] = keys["self_signing_keys"][user_id]
        if len(content) > 1:
            edus.append((SIGNING_KEY_UPDATE, content, f"{SIGNING_KEY_UPDATE}:{user_id}"))
    return edus


def queue_updates(user_id: str, position: int, room_ids: Iterable[str]) -> None:
    """Queue the EDUs of a local user's change at `position` for the servers in `room_ids` (the user's
    rooms). In the caller's transaction."""
    from apps.federation_sender import stores as outbox
    from apps.federation_sender.delivery import sending_enabled

    if not sending_enabled():
        return
    destinations = _destinations(list(room_ids))
    if not destinations:
        return
    edus = build_edus(user_id, position)
    if not edus:
        return
    for destination in sorted(destinations):
        for edu_type, content, coalesce_key in edus:
            outbox.queue_edu(destination, edu_type, content, coalesce_key)

    def wake() -> None:
        from apps.federation_sender.wakeups import wake_all

        wake_all(destinations)
    transaction.on_commit(wake)
