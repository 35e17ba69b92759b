"""Which member events a device was already sent in a room, for lazy-loading without redundant members.

Spec (client-server API, "Lazy-loading room members"): with `lazy_load_members` the server MAY skip the
membership events it already sent to the client, unless the filter sets `include_redundant_members`.
A record per (user, device, room) in the shared cache maps a member's user ID to the member event sent
and the events position of the response that carried it. A member event is skipped only when the
request's `since` is at or past that position: presenting a later `since` proves the client received
that response, so a retried /sync (the same `since` after a lost response) is sent the members again.
A lost or expired record only means members are sent again, which the spec allows.
"""
from __future__ import annotations

from django.core.cache import cache

# Members remembered per device and room; beyond this the oldest are forgotten (and sent again if needed).
MAX_MEMBERS = 2_000
TTL_S = 7 * 24 * 3600


def _key(user_id: str, device_id: str | None, room_id: str) -> str:
    return f"sync-ll-members:{user_id}:{device_id or ''}:{room_id}"


class SentMembers:
    def __init__(self, user_id: str, device_id: str | None, room_id: str, *, reset: bool):
        self.key = _key(user_id, device_id, room_id)
        self.entries: dict[str, list] = {} if reset else (cache.get(self.key) or {})
        self.changed = reset

    def already_has(self, member: str, event_id: str, since: int) -> bool:
        sent = self.entries.get(member)
        return sent is not None and sent[0] == event_id and sent[1] <= since

    def record(self, member: str, event_id: str, position: int) -> None:
        sent = self.entries.get(member)
        if sent is not None and sent[0] == event_id:
            return  # keep the earliest position: the client has it since then
        self.entries[member] = [event_id, position]
        self.changed = True

    def save(self) -> None:
        if not self.changed:
            return
        if len(self.entries) > MAX_MEMBERS:
            newest = sorted(self.entries.items(), key=lambda kv: kv[1][1], reverse=True)[:MAX_MEMBERS]
            self.entries = dict(newest)
        cache.set(self.key, self.entries, TTL_S)
