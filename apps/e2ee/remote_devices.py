"""Other servers' users' devices: this server's cache of them, and the EDUs that keep it true (spec:
server-server API, "Device Management", "End-to-End Encryption").

Lookups (`query_remote_keys`, for a local client's `/keys/query`):
- a remote user joined to a room that a local user is joined to is *tracked*: their server sends us
  `m.device_list_update` / `m.signing_key_update` EDUs whenever their devices change, so the answer of
  their server to `/user/keys/query` (for all their devices) is kept (apps.remote_device_lists) and
  served until one of those EDUs, or a membership change of the user, invalidates it. A kept answer is
  also refetched after CACHE_MAX_AGE_MS, in case an EDU was lost on the way;
- any other remote user is asked about every time (nothing would tell us that a kept answer is stale).
An answer is only kept when no invalidation happened while it was being fetched (the cache's generation).

EDUs (`on_device_list_update`, `on_signing_key_update`), taken only from the user's own server: the
user's cached devices are forgotten (the next lookup refetches: simpler than applying the update, and
never wrong), and, when a local user shares a room with them, the change is recorded on the
`device_lists` stream (on its writer; forwarded there from another process), so that local users see
the remote user in `device_lists.changed` of `/sync` and query the fresh keys.
"""
from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings

from apps.core.ids import server_name_of
from apps.rooms.persister import PersistedEvent, on_event_persisting

from . import stores

logger = logging.getLogger(__name__)

STREAM = "device_lists"
# A kept answer is refetched after this long even without an EDU (one lost in transit is not forever).
CACHE_MAX_AGE_MS = 24 * 3600 * 1000
REPLICATION_REMOTE_CHANGE_PATH = "/e2ee/remote_device_list_change"
MAX_ID_LENGTH = 255


def _now_ms() -> int:
    return int(time.time() * 1000)


def tracked_users(user_ids) -> set[str]:
    """The remote users among `user_ids` whose device-list updates this server receives."""
    return stores.remote_users_sharing_rooms(user_ids, settings.HS.server_name)


# --- lookups ---------------------------------------------------------------------------------------------

def _pick(answer: dict[str, Any], devices: list[str]) -> dict[str, dict]:
    found = answer.get("device_keys") or {}
    return {d: k for d, k in found.items() if not devices or d in devices}


def query_remote_keys(wanted: dict[str, list[str]]) -> dict[str, Any]:
    """Device and cross-signing keys of users of other servers ({user_id: [device_id]}, empty: all):
    {device_keys, master_keys, self_signing_keys, failures}, from the cache where it holds them."""
    from apps.federation.queries import query_device_keys
    from apps.remote_device_lists import stores as cache

    tracked = tracked_users(wanted)
    now = _now_ms()
    answers = cache.cached(tracked, now - CACHE_MAX_AGE_MS)
    misses = sorted(tracked - set(answers))
    generations = cache.generations(misses)
    # A tracked user is asked about all their devices (what is kept); others as the client asked.
    ask = {u: ([] if u in generations else d) for u, d in wanted.items() if u not in answers}
    out: dict[str, Any] = {"device_keys": {}, "master_keys": {}, "self_signing_keys": {}, "failures": {}}
    if ask:
        fetched = query_device_keys(ask)
        out["failures"].update(fetched["failures"])
        for user_id in ask:
            if server_name_of(user_id) in fetched["failures"]:
                continue
            answer: dict[str, Any] = {"device_keys": fetched["device_keys"].get(user_id, {})}
            if user_id in fetched["master_keys"]:
                answer["master_key"] = fetched["master_keys"][user_id]
            if user_id in fetched["self_signing_keys"]:
                answer["self_signing_key"] = fetched["self_signing_keys"][user_id]
            if user_id in generations:
                cache.save_if_unchanged(user_id, generations[user_id], answer, now)
            elif user_id not in fetched["device_keys"]:
                continue  # not tracked, and their server said nothing of them: nothing to show
            answers[user_id] = answer
    for user_id, answer in answers.items():
        out["device_keys"][user_id] = _pick(answer, wanted[user_id])
        if "master_key" in answer:
            out["master_keys"][user_id] = answer["master_key"]
        if "self_signing_key" in answer:
            out["self_signing_keys"][user_id] = answer["self_signing_key"]
    return out


def forget(user_ids) -> int:
    """Forget the cached devices of these remote users (the next lookup asks their server)."""
    from apps.remote_device_lists import stores as cache

    return cache.invalidate(user_ids)


@on_event_persisting
def _forget_on_membership(persisted: PersistedEvent) -> None:
    """A remote user joining or leaving a room here: while they shared no room with us their server sent
    us no updates, so what is kept of them may be stale."""
    event = persisted.event
    if event.type != "m.room.member" or not isinstance(event.state_key, str) or is_local(event.state_key):
        return
    forget([event.state_key])


def is_local(user_id: str) -> bool:
    return server_name_of(user_id) == settings.HS.server_name


# --- EDUs ------------------------------------------------------------------------------------------------

def _valid_id(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH and "\x00" not in value


def _user_of(origin: str, content: dict) -> str | None:
    """The EDU's user, when it is a user of the sending server (a server speaks for its own users only)."""
    user_id = content.get("user_id")
    if not _valid_id(user_id) or not user_id.startswith("@") or ":" not in user_id:
        return None
    if server_name_of(user_id) != origin or is_local(user_id):
        logger.info("ignoring a device-list EDU from %s about %s", origin, user_id)
        return None
    return user_id


def on_device_list_update(origin: str, content: dict) -> None:
    """An `m.device_list_update` EDU."""
    user_id = _user_of(origin, content)
    device_id = content.get("device_id")
    if user_id is None or not _valid_id(device_id):
        return
    remote_changed(user_id, [device_id])


def on_signing_key_update(origin: str, content: dict) -> None:
    """An `m.signing_key_update` EDU."""
    user_id = _user_of(origin, content)
    if user_id is None:
        return
    remote_changed(user_id, [None])


def remote_changed(user_id: str, device_ids: list[str | None]) -> None:
    """A remote user's devices (None: cross-signing keys) changed, as their server says."""
    forget([user_id])
    if not tracked_users([user_id]):
        return  # no local user shares a room with them: nobody to tell
    record_remote_change(user_id, device_ids)


def record_remote_change(user_id: str, device_ids: list[str | None]) -> None:
    """Append the change to the `device_lists` stream, here when this process writes it, else on its writer
    (a federation worker receiving the EDU)."""
    from hsproject import instance

    from . import device_lists

    if instance.writes(STREAM):
        device_lists.record_change(user_id, device_ids)
        return
    from apps.streams.replication_http import call_instance

    # No read-after-write wait: nobody on this process reads the change because of this request.
    call_instance(instance.writers_of(STREAM)[0], REPLICATION_REMOTE_CHANGE_PATH,
                  {"user_id": user_id, "device_ids": device_ids})
