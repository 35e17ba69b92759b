"""Push actions: for every event persisted in a room's timeline, what each local member's push rules
say about it, stored with the event (in the persisting transaction, `on_event_persisting`).

For one event, in a bounded number of queries whatever the number of members:
  1. the room's joined members (the member count of `room_member_count` too);
  2. the members who ignore the sender (their events never notify them), then the rules of the local
     members other than the sender (plus the invitee of an invite), through
     the per-user cache of `rules.rulesets_for` (one query for the versions, two on a miss);
  3. only when a rule asks: display names (one query for the joined members' events) and the
     sender's power level (the create and power-levels events);
  4. the thread of the event (a query per relation hop, only for events with a non-thread relation);
  5. one bulk insert of the rows of the members a notifying rule matched.

A redaction removes the push actions of the event it redacts. The sender's own event moves their read
position in its thread (spec "Marking notifications as read"): one upsert of `OwnEventPosition`.

Spec: client-server API, "Push Notifications" / "Server behaviour": rules are processed for each
local user in the room excluding the sender, and the new counts appear in the same `/sync` as the
event (the rows commit with it).
"""
from __future__ import annotations

import time
from typing import Any

from apps.core.ids import is_local_id
from apps.rooms.events import Event
from apps.rooms.models import RoomMembership
from apps.rooms.persister import PersistedEvent, on_event_persisting

from . import rules, stores
from .evaluator import EvalContext, first_match, outcome
from .models import EventPushAction
from .threads import thread_of_event


def _now_ms() -> int:
    return int(time.time() * 1000)


class _RoomFacts:
    """What conditions may ask about the room, each loaded once, only when first asked."""

    def __init__(self, event: Event):
        self.event = event
        self._names: dict[str, str] | None = None
        self._auth: dict | None = None

    def display_name(self, user_id: str) -> str | None:
        if self._names is None:
            from apps.rooms.stores import current_member_events

            self._names = {}
            for ev in current_member_events(self.event.room_id, ["join"]):
                name = ev.content.get("displayname")
                if isinstance(name, str) and ev.state_key is not None:
                    self._names[ev.state_key] = name
        return self._names.get(user_id)

    def _auth_events(self) -> dict:
        if self._auth is None:
            from apps.rooms import state_store
            from apps.rooms.power_levels import CREATE_KEY, POWER_LEVELS_KEY
            from apps.rooms.stores import get_events

            ids = state_store.current_state(self.event.room_id, [CREATE_KEY, POWER_LEVELS_KEY])
            events = get_events(ids.values())
            self._auth = {k: events[eid] for k, eid in ids.items() if eid in events}
        return self._auth

    def sender_power_level(self) -> int:
        from apps.rooms.power_levels import get_user_power_level

        return get_user_power_level(self.event.sender, self._auth_events(), self.event.room_version)

    def notification_level(self, key: str) -> int:
        from apps.rooms.power_levels import get_notification_level

        return get_notification_level(self._auth_events(), key)


def recipients(event: Event, joined: list[str]) -> list[str]:
    users = [u for u in joined if u != event.sender and is_local_id(u)]
    # An invitee is not joined yet, and `.m.rule.invite_for_me` is for them.
    target = event.state_key
    if (event.membership == "invite" and isinstance(target, str) and target != event.sender
            and is_local_id(target) and target not in users):
        users.append(target)
    return users


def evaluate_event(event: Event, stream_ordering: int) -> list[EventPushAction]:
    joined = list(RoomMembership.objects.filter(room_id=event.room_id, membership="join")
                  .values_list("user_id", flat=True))
    thread_id = thread_of_event(event.content, event.room_id)
    if is_local_id(event.sender):
        stores.record_own_event(event.sender, event.room_id, thread_id, stream_ordering)
    users = recipients(event, joined)
    if users:
        ignoring = stores.users_ignoring(event.sender, users)
        users = [u for u in users if u not in ignoring]
    if not users:
        return []
    rulesets = rules.rulesets_for(users)
    facts = _RoomFacts(event)
    as_dict: dict[str, Any] = {**event.pdu, "room_id": event.room_id}
    ts = _now_ms()
    rows = []
    for user_id in users:
        ctx = EvalContext(member_count=len(joined), display_name=lambda u=user_id: facts.display_name(u),
                          sender_power_level=facts.sender_power_level, notification_level=facts.notification_level)
        rule = first_match(rulesets[user_id], as_dict, ctx)
        if rule is None:
            continue
        result = outcome(rule.get("actions") or ())
        if not result.notify:
            continue
        rows.append(EventPushAction(user_id=user_id, room_id=event.room_id, event_id=event.event_id,
                                    stream_ordering=stream_ordering, thread_id=thread_id, notify=True,
                                    highlight=result.highlight, actions=list(result.actions), ts=ts))
    stores.insert_push_actions(rows)
    return rows


@on_event_persisting
def _on_persisting(persisted: PersistedEvent) -> None:
    event = persisted.event
    meta = event.internal
    if persisted.stream_ordering is None or event.rejected or meta.soft_failed or meta.outlier:
        return
    if event.type == "m.room.redaction" and event.redacts:
        # A redacted event no longer counts as unread nor appears in /notifications.
        stores.delete_push_actions_for_event(event.redacts, event.room_id)
    evaluate_event(event, persisted.stream_ordering)
