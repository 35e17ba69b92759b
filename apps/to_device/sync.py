"""The `to_device` section of `/sync` (`apps.sync.sections`): the syncing device's queued messages.

Spec ("Send-to-Device messaging", Server behaviour): messages are listed in order of arrival, at most
`MAX_PER_SYNC` per response; when more are queued, `next_batch`'s `to_device` position is lowered to the
last message sent (`ctx.cap_token_position`), so the next sync carries on right after it. A sync whose
`since` is at or past a message's position acknowledges it: the message is deleted then.

Cost: the inbox is read only when the `to_device` stream moved since `since` for this device, or this
process cannot tell (`changes`): one query. Deleting needs to know there is something to delete: this
process remembers which devices it delivered to (`_delivered`, a bounded hint) and deletes on their next
sync; new messages for the device also trigger it.
A hint lost (restart, a next sync served by another process) only delays the deletion to the device's
next delivery; it never repeats nor loses a message, because the token's position decides what is sent.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from apps.sync import sections

from apps.account_data.changes import StreamChanges

from . import stores

# Which devices the stream's rows were for (to-device traffic moves the stream for everyone).
changes = StreamChanges(stores.STREAM, lambda row: (row.get("user_id"), row.get("device_id")))

MAX_PER_SYNC = 100
_HINTS = 100_000

_lock = threading.Lock()
# (user_id, device_id) -> the highest position delivered to that device and not yet known deleted.
_delivered: "OrderedDict[tuple[str, str], int]" = OrderedDict()


def _remember(key: tuple[str, str], position: int) -> None:
    with _lock:
        _delivered[key] = max(position, _delivered.get(key, 0))
        _delivered.move_to_end(key)
        while len(_delivered) > _HINTS:
            _delivered.popitem(last=False)


def _take_hint(key: tuple[str, str], since: int) -> bool:
    """Whether this process delivered something at or below `since` to the device (and forget it if
    everything delivered is now acknowledged)."""
    with _lock:
        delivered = _delivered.get(key)
        if delivered is None:
            return False
        if delivered <= since:
            del _delivered[key]
        return True


def fill(ctx: sections.SyncContext, response: dict[str, Any]) -> None:
    device_id = ctx.device_id
    if device_id is None:
        return
    key = (ctx.user_id, device_id)
    since = ctx.since_position(stores.STREAM)
    now = ctx.now.position(stores.STREAM)
    # Moved for this device (or maybe: `changes` is unsure), not only for other devices.
    moved = now > since and (ctx.since is None or changes.may_have_changed(key, since, now))
    if ctx.since is not None and (_take_hint(key, since) or moved):
        stores.delete_delivered(ctx.user_id, device_id, since)
    if not moved:
        return
    messages = stores.pending(ctx.user_id, device_id, since, now, MAX_PER_SYNC + 1)
    if not messages:
        return
    if len(messages) > MAX_PER_SYNC:
        messages = messages[:MAX_PER_SYNC]
        ctx.cap_token_position(stores.STREAM, messages[-1][0])
    response["to_device"]["events"].extend(m for _, m in messages)
    _remember(key, messages[-1][0])


sections.register("to_device", fill)
