"""The rules of presence (client-server API, "Presence"); the transitions themselves are `states`.

- `PUT /presence/{userId}/status`: only one's own; sets the state and status message (activity).
- `GET /presence/{userId}/status`: one's own, or that of a user sharing a joined room (Synapse answers
  M_FORBIDDEN otherwise: presence is published to those who share a room, spec "Security
  considerations"); timeouts are applied at read time.
- `/sync?set_presence=` (a request hook): `online`/`unavailable` set the state as `states.on_sync` says
  and mark the user seen; `offline` leaves presence alone.
- `/sync` top-level `presence.events`: `m.presence` of the user and of everyone sharing a joined room
  with them, those changed since `since` (on an initial sync, everyone not offline); `filter.presence`
  applies.
- `presence.enabled: false` (config): nothing is stored or sent; PUT is accepted, GET says offline.
- Federation (server-server API, "Presence"): `m.presence` EDUs set the presence of the sending server's
  users who are joined to a room here (what others' users can see of them); anything else is ignored.

Changes clients see are written by the `presence` stream's writer; timeouts are written by its loop
(`loop`), so a user going idle or offline reaches syncing clients without a request.
"""
from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings

from apps.core.errors import Codes, MatrixError
from apps.core.ids import server_name_of
from hsproject import instance

from . import stores
from .loop import loop
from .states import (OFFLINE, OFFLINE_AFTER_MS, REMOTE_OFFLINE_AFTER_MS, STATES, Presence, after_timeouts,
                     content, from_remote, on_sync, set_explicitly)

logger = logging.getLogger(__name__)

EVENT_TYPE = "m.presence"
# A connected user's `last_seen_ts` is rewritten at most this often by their /sync requests.
SEEN_EVERY_MS = 5_000


def now_ms() -> int:
    return int(time.time() * 1000)


def enabled() -> bool:
    return settings.HS.presence_enabled


def _require_writer() -> None:
    if not instance.writes(stores.STREAM):
        # The routing table marks the endpoint `writes="presence"`: the proxy sends it to the writer.
        raise MatrixError(Codes.UNKNOWN, "This process does not write presence; route presence updates to "
                          "the 'presence' stream writer", 500)


def set_presence(requester, user_id: str, state: str, status_msg: str | None) -> None:
    if user_id != requester.user_id:
        raise MatrixError(Codes.FORBIDDEN, "You cannot set the presence state of another user", 403)
    if not enabled():
        return
    _require_writer()
    lp = loop()
    lp.start()
    now = now_ms()
    stores.write(user_id, lambda current, _pending: set_explicitly(current, state, status_msg, now))
    lp.schedule(now + OFFLINE_AFTER_MS + 1)


def get_presence(requester, user_id: str) -> dict[str, Any]:
    if user_id != requester.user_id and not stores.share_a_room(requester.user_id, user_id):
        raise MatrixError(Codes.FORBIDDEN, "You are not allowed to see their presence", 403)
    if not enabled():
        return {"presence": OFFLINE}
    if instance.writes(stores.STREAM):
        loop().start()
    current = stores.get(user_id)
    if current is None:
        return {"presence": OFFLINE}
    now = now_ms()
    return content(after_timeouts(current, now), now)


def on_sync_request(requester, params) -> None:
    """`apps.sync.sections` request hook: `set_presence` of a /sync request."""
    if not enabled():
        return
    set_to = params.set_presence
    if set_to == OFFLINE:
        return
    lp = loop()
    lp.start()
    lp.track_sync(requester)
    user_id = requester.user_id
    now = now_ms()
    found = stores.get_with_pending(user_id)
    current, pending = found if found is not None else (Presence(), None)
    wanted = on_sync(current, set_to, now)
    if found is not None and wanted.visible() == current.visible() and pending is None:
        if now - current.last_seen_ts >= SEEN_EVERY_MS:
            stores.touch_seen([user_id], now)
        return
    if instance.writes(stores.STREAM):
        stores.write(user_id, lambda cur, _pending: on_sync(cur, set_to, now))
        lp.schedule(now + OFFLINE_AFTER_MS + 1)
    else:
        stores.request_state(user_id, set_to, now)


def apply_due(now: int) -> int:
    """Writer: apply the timeouts due at `now` and the states other processes' /sync asked for. Returns
    how many users' presence changed visibly."""
    changed = 0
    for user_id in stores.due_user_ids(now):
        def change(current: Presence, pending: str | None) -> Presence:
            return after_timeouts(on_sync(current, pending, now) if pending else current, now)
        if stores.write(user_id, change) is not None:
            changed += 1
    return changed


def fill_sync(ctx, response: dict[str, Any]) -> None:
    """The top-level `presence` section of /sync (an `apps.sync.sections` fill). No query when the stream
    has not moved since `since`."""
    if not enabled() or not ctx.stream_moved(stores.STREAM):
        return
    flt = ctx.filter.presence
    if flt.limit == 0 or not flt.allows(EVENT_TYPE, None):
        return
    since = 0 if ctx.initial else ctx.since_position(stores.STREAM)
    now = now_ms()
    events = []
    for user_id, presence in stores.changed_for(ctx.user_id, ctx.joined_rooms, since,
                                                ctx.now.position(stores.STREAM)):
        if not flt.allows(EVENT_TYPE, user_id):
            continue
        presence = after_timeouts(presence, now)
        if ctx.initial and presence.state == OFFLINE:
            continue
        events.append({"type": EVENT_TYPE, "sender": user_id, "content": content(presence, now)})
    if flt.limit is not None:
        events = events[-flt.limit:] if flt.limit else []
    response["presence"]["events"].extend(events)


def _remote_update(origin: str, item: Any, now: int) -> tuple[str, Presence] | None:
    """One entry of an EDU's `push`, or None when it is malformed or not the origin's user to report."""
    if not isinstance(item, dict):
        return None
    user_id, state = item.get("user_id"), item.get("presence")
    ago, status_msg, active = item.get("last_active_ago", 0), item.get("status_msg"), item.get("currently_active")
    if not isinstance(user_id, str) or not user_id.startswith("@") or server_name_of(user_id) != origin:
        return None
    if state not in STATES or not isinstance(ago, int) or isinstance(ago, bool) or ago < 0:
        return None
    if not isinstance(status_msg, str):
        status_msg = None
    return user_id, from_remote(state, status_msg, min(ago, now), active is True, now)


def on_presence_edu(origin: str, edu_content: dict) -> None:
    """An `m.presence` EDU from `origin` (an `apps.federation.edus` handler)."""
    push = edu_content.get("push")
    if not enabled() or not isinstance(push, list):
        return
    if not instance.writes(stores.STREAM):
        # EDUs are not retried: without a way to hand it to the writer the update is dropped.
        logger.info("presence EDU from %s dropped: this process does not write presence", origin)
        return
    now = now_ms()
    for item in push:
        update = _remote_update(origin, item, now)
        if update is None:
            continue
        user_id, presence = update
        if not stores.joined_rooms([user_id]):
            continue  # in no room here: nobody may see it
        stores.write(user_id, lambda _current, _pending, presence=presence: presence)
        lp = loop()
        lp.start()
        lp.schedule(now + REMOTE_OFFLINE_AFTER_MS + 1)
