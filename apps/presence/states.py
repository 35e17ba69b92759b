"""Presence as values: the transitions and timeouts of one user's presence, with the clock passed in.

Spec (client-server API, "Presence", "Last active ago", "Idle timeout"):
- `online` is the default while a client is connected to an event stream (/sync), `unavailable` an idle
  or explicitly unavailable user, `offline` a user not connected (or hiding).
- The server keeps the time of the last pro-active action (`last_active_ago`). While `online` it may send
  `currently_active: true` and then stop sending updates of the last active time until it sends
  `currently_active: false` or another state.
- Idle timeout: a user whose last activity is older than a threshold (`IDLE_AFTER_MS`) becomes
  `unavailable`.

Beyond the spec, as Synapse does: a user not seen (no /sync, no presence request) for `OFFLINE_AFTER_MS`
goes `offline`; `currently_active` lapses `ACTIVE_GRANULARITY_MS` after the last activity.

A remote user's presence is what their server last said (server-server API, "Presence" EDUs); their
server runs their timeouts. Only one applies here: not heard of for `REMOTE_OFFLINE_AFTER_MS`, they are
taken to be offline (their server may be gone).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

ONLINE, UNAVAILABLE, OFFLINE = "online", "unavailable", "offline"
STATES = (ONLINE, UNAVAILABLE, OFFLINE)

IDLE_AFTER_MS = 5 * 60 * 1000
OFFLINE_AFTER_MS = 30 * 1000
ACTIVE_GRANULARITY_MS = 60 * 1000
REMOTE_OFFLINE_AFTER_MS = 30 * 60 * 1000


@dataclass(frozen=True)
class Presence:
    state: str = OFFLINE
    status_msg: str | None = None
    last_active_ts: int = 0
    last_seen_ts: int = 0
    currently_active: bool = False
    # A user of another server (their presence comes in EDUs).
    remote: bool = False

    def visible(self) -> tuple[Any, ...]:
        """What a change must alter for clients to be told (the last active time alone is not news)."""
        return (self.state, self.status_msg, self.currently_active)


def after_timeouts(p: Presence, now: int) -> Presence:
    """`p` as it stands at `now` once the offline, idle and activity timeouts have run."""
    if p.state == OFFLINE:
        return replace(p, currently_active=False) if p.currently_active else p
    if p.remote:
        return replace(p, state=OFFLINE, currently_active=False) \
            if now - p.last_seen_ts > REMOTE_OFFLINE_AFTER_MS else p
    if now - p.last_seen_ts > OFFLINE_AFTER_MS:
        return replace(p, state=OFFLINE, currently_active=False)
    if p.state == ONLINE and now - p.last_active_ts > IDLE_AFTER_MS:
        return replace(p, state=UNAVAILABLE, currently_active=False)
    if p.currently_active and now - p.last_active_ts > ACTIVE_GRANULARITY_MS:
        return replace(p, currently_active=False)
    return p


def next_deadline(p: Presence) -> int | None:
    """When `after_timeouts` would next change `p` (None: never on its own)."""
    if p.state == OFFLINE:
        return None
    if p.remote:
        return p.last_seen_ts + REMOTE_OFFLINE_AFTER_MS + 1
    deadlines = [p.last_seen_ts + OFFLINE_AFTER_MS]
    if p.state == ONLINE:
        deadlines.append(p.last_active_ts + IDLE_AFTER_MS)
    if p.currently_active:
        deadlines.append(p.last_active_ts + ACTIVE_GRANULARITY_MS)
    return min(deadlines) + 1


def set_explicitly(p: Presence, state: str, status_msg: str | None, now: int) -> Presence:
    """`PUT /presence/{userId}/status`: setting the status is activity (spec: "the activity time is updated
    to reflect that activity")."""
    return Presence(state=state, status_msg=status_msg, last_active_ts=now, last_seen_ts=now,
                    currently_active=state == ONLINE)


def on_sync(p: Presence, set_presence: str, now: int) -> Presence:
    """A /sync with `set_presence`: `offline` leaves presence alone; `online` brings an offline user online
    (connecting is activity) and keeps an idle one idle (a background sync is not activity); `unavailable`
    makes the user unavailable. Both count as being seen."""
    if set_presence == OFFLINE:
        return p
    p = after_timeouts(p, now)
    if set_presence == ONLINE:
        if p.state == OFFLINE:
            return replace(p, state=ONLINE, last_active_ts=now, last_seen_ts=now, currently_active=True)
        return replace(p, last_seen_ts=now)
    if p.state != UNAVAILABLE:
        return replace(p, state=UNAVAILABLE, last_seen_ts=now, currently_active=False)
    return replace(p, last_seen_ts=now)


def from_remote(state: str, status_msg: str | None, last_active_ago: int, currently_active: bool,
                now: int) -> Presence:
    """What a remote server said of its user, received at `now`."""
    return Presence(state=state, status_msg=status_msg, last_active_ts=now - last_active_ago, last_seen_ts=now,
                    currently_active=currently_active and state == ONLINE, remote=True)


def content(p: Presence, now: int) -> dict[str, Any]:
    """The `m.presence` content (and the body of GET /presence/{userId}/status)."""
    out: dict[str, Any] = {"presence": p.state}
    if p.last_active_ts:
        out["last_active_ago"] = max(0, now - p.last_active_ts)
    if p.status_msg is not None:
        out["status_msg"] = p.status_msg
    if p.state == ONLINE:
        out["currently_active"] = p.currently_active
    return out
