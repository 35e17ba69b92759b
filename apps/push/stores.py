"""Every query of the push area: users' rules, push actions, own-event positions, pushers.

Writes of push rules take their `push_rules` position inside the writing transaction, just before the
user's version row is stamped (`bump_rules_version`), and publish `{user_id}` on commit.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from django.db import transaction
from django.db.models import Max, Q

from apps.streams.replication import allocate_position, on_commit_publish

from .models import EventPushAction, OwnEventPosition, PushRule, PushRuleDefaultSetting, PushRulesVersion, Pusher

STREAM = "push_rules"


# --- push rules ----------------------------------------------------------------------------------------

@dataclass
class StoredRules:
    """A user's own rules (per kind, most important first) and their changes to server-default rules."""

    user: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # rule_id -> {"enabled": bool | None, "actions": list | None}
    defaults: dict[str, dict[str, Any]] = field(default_factory=dict)


def _rule_dict(r: PushRule) -> dict[str, Any]:
    d: dict[str, Any] = {"rule_id": r.rule_id, "default": False, "enabled": r.enabled, "actions": r.actions,
                         "priority": r.priority}
    if r.kind in ("override", "underride"):
        d["conditions"] = r.conditions
    if r.kind == "content":
        d["pattern"] = r.pattern
    return d


def load_rules(user_ids: Iterable[str]) -> dict[str, StoredRules]:
    """Every listed user's stored rules, in two queries whatever the number of users."""
    ids = list(dict.fromkeys(user_ids))
    out = {u: StoredRules() for u in ids}
    if not ids:
        return out
    for r in PushRule.objects.filter(user_id__in=ids).order_by("user_id", "kind", "-priority", "id"):
        out[r.user_id].user.setdefault(r.kind, []).append(_rule_dict(r))
    for uid, rule_id, enabled, actions in (PushRuleDefaultSetting.objects.filter(user_id__in=ids)
                                           .values_list("user_id", "rule_id", "enabled", "actions")):
        out[uid].defaults[rule_id] = {"enabled": enabled, "actions": actions}
    return out


def rules_versions(user_ids: Iterable[str]) -> dict[str, int]:
    """The `push_rules` position of each user's last change (absent: never changed)."""
    ids = list(dict.fromkeys(user_ids))
    if not ids:
        return {}
    return dict(PushRulesVersion.objects.filter(user_id__in=ids).values_list("user_id", "stream_id"))


def rules_changed(user_id: str, since: int, up_to: int) -> bool:
    return PushRulesVersion.objects.filter(user_id=user_id, stream_id__gt=since, stream_id__lte=up_to).exists()


def bump_rules_version(user_id: str) -> int:
    """Inside the writing transaction: a new `push_rules` position for the user's rules."""
    position = allocate_position(STREAM)
    updated = PushRulesVersion.objects.filter(user_id=user_id).update(stream_id=position)
    if not updated:
        PushRulesVersion.objects.create(user_id=user_id, stream_id=position)
    on_commit_publish(STREAM, position, [{"user_id": user_id}])
    return position


def rules_of_kind(user_id: str, kind: str, *, lock: bool = False) -> list[PushRule]:
    qs = PushRule.objects.filter(user_id=user_id, kind=kind)
    if lock:
        qs = qs.select_for_update()
    return list(qs.order_by("-priority", "id"))


def get_user_rule(user_id: str, kind: str, rule_id: str, *, lock: bool = False) -> PushRule | None:
    qs = PushRule.objects.filter(user_id=user_id, kind=kind, rule_id=rule_id)
    if lock:
        qs = qs.select_for_update()
    return qs.first()


def save_user_rule(user_id: str, kind: str, rule_id: str, *, actions: list, conditions: list,
                   pattern: str | None) -> PushRule:
    """Create (enabled, least important until ordered) or update a user rule's definition."""
    rule, created = PushRule.objects.get_or_create(
        user_id=user_id, kind=kind, rule_id=rule_id,
        defaults={"actions": actions, "conditions": conditions, "pattern": pattern, "enabled": True, "priority": 0})
    if not created:
        rule.actions, rule.conditions, rule.pattern = actions, conditions, pattern
        rule.save(update_fields=["actions", "conditions", "pattern"])
    return rule


def save_rule_order(rules: list[PushRule]) -> None:
    """Renumber `rules` (most important first) so their priorities are strictly decreasing."""
    n = len(rules)
    changed = []
    for i, r in enumerate(rules):
        want = n - i
        if r.priority != want:
            r.priority = want
            changed.append(r)
    if changed:
        PushRule.objects.bulk_update(changed, ["priority"])


def delete_user_rule(user_id: str, kind: str, rule_id: str) -> bool:
    return PushRule.objects.filter(user_id=user_id, kind=kind, rule_id=rule_id).delete()[0] > 0


def set_default_setting(user_id: str, rule_id: str, **values: Any) -> None:
    row, _ = PushRuleDefaultSetting.objects.get_or_create(user_id=user_id, rule_id=rule_id)
    for k, v in values.items():
        setattr(row, k, v)
    row.save()


def default_setting(user_id: str, rule_id: str) -> dict[str, Any] | None:
    return (PushRuleDefaultSetting.objects.filter(user_id=user_id, rule_id=rule_id)
            .values("enabled", "actions").first())


def fetch_rules_rows(from_pos: int, to_pos: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
    rows = (PushRulesVersion.objects.filter(stream_id__gt=from_pos, stream_id__lte=to_pos)
            .order_by("stream_id").values_list("stream_id", "user_id")[:limit])
    return [(pos, {"user_id": uid}) for pos, uid in rows]


# --- push actions ------------------------------------------------------------------------------------

def insert_push_actions(rows: list[EventPushAction]) -> None:
    if rows:
        EventPushAction.objects.bulk_create(rows, ignore_conflicts=True)


def users_ignoring(sender: str, user_ids: Iterable[str]) -> set[str]:
    """Those of `user_ids` whose `m.ignored_user_list` names `sender` (an ignored user's events never
    notify: client-server API, "Ignoring Users"). One query on the account data table, narrowed by a
    substring match and confirmed on the parsed content."""
    import json

    from apps.account_data.models import AccountData

    ids = list(user_ids)
    if not ids:
        return set()
    rows = (AccountData.objects.filter(user_id__in=ids, room_id="", data_type="m.ignored_user_list",
                                       content__contains=json.dumps(sender, ensure_ascii=False))
            .values_list("user_id", "content"))
    out = set()
    for user_id, raw in rows:
        try:
            ignored = json.loads(raw).get("ignored_users")
        except (ValueError, AttributeError):
            continue
        if isinstance(ignored, dict) and sender in ignored:
            out.add(user_id)
    return out


def delete_push_actions_for_event(event_id: str, room_id: str) -> None:
    EventPushAction.objects.filter(event_id=event_id, room_id=room_id).delete()


def actions_for_pusher(user_id: str, after: int, up_to: int, limit: int) -> list[EventPushAction]:
    """The user's notifying actions in (after, up_to], oldest first: what a pusher at `after` has to push."""
    return list(EventPushAction.objects.filter(user_id=user_id, notify=True, stream_ordering__gt=after,
                                               stream_ordering__lte=up_to).order_by("stream_ordering")[:limit])


def record_own_event(user_id: str, room_id: str, thread_id: str, stream_ordering: int) -> None:
    """The user's latest sent event in a room's thread (one upsert)."""
    OwnEventPosition.objects.bulk_create(
        [OwnEventPosition(user_id=user_id, room_id=room_id, thread_id=thread_id, stream_ordering=stream_ordering)],
        update_conflicts=True, unique_fields=["user_id", "room_id", "thread_id"], update_fields=["stream_ordering"])


def own_event_positions(user_id: str, room_ids: Iterable[str]) -> dict[tuple[str, str], int]:
    rows = (OwnEventPosition.objects.filter(user_id=user_id, room_id__in=list(room_ids))
            .values_list("room_id", "thread_id", "stream_ordering"))
    return {(r, t): s for r, t, s in rows}


def count_actions(user_id: str, conditions: Q, up_to: int) -> list[tuple[str, str, int, int]]:
    """(room_id, thread_id, notifications, highlights) of the user's notifying actions matching
    `conditions`, at or below `up_to`."""
    from django.db.models import Count, Sum, Case, When, IntegerField

    rows = (EventPushAction.objects.filter(conditions, user_id=user_id, notify=True, stream_ordering__lte=up_to)
            .values("room_id", "thread_id")
            .annotate(n=Count("id"), h=Sum(Case(When(highlight=True, then=1), default=0, output_field=IntegerField())))
            .values_list("room_id", "thread_id", "n", "h"))
    return [(r, t, n, h or 0) for r, t, n, h in rows]


def rooms_with_actions(user_id: str, since: int, up_to: int) -> set[str]:
    return set(EventPushAction.objects.filter(user_id=user_id, stream_ordering__gt=since, stream_ordering__lte=up_to)
               .values_list("room_id", flat=True).distinct())


def notifications_page(user_id: str, *, before: int | None, limit: int, only_highlight: bool) -> list[EventPushAction]:
    qs = EventPushAction.objects.filter(user_id=user_id, notify=True)
    if before is not None:
        qs = qs.filter(stream_ordering__lt=before)
    if only_highlight:
        qs = qs.filter(highlight=True)
    return list(qs.order_by("-stream_ordering")[:limit])


# --- pushers -------------------------------------------------------------------------------------------

def pushers_of(user_id: str) -> list[Pusher]:
    return list(Pusher.objects.filter(user_id=user_id).order_by("id"))


def delete_pusher(user_id: str, app_id: str, pushkey: str) -> None:
    Pusher.objects.filter(user_id=user_id, app_id=app_id, pushkey=pushkey).delete()


def delete_device_pushers(user_id: str, device_id: str) -> int:
    """The pushers a device's access token set (for the device's logout or deletion)."""
    return Pusher.objects.filter(user_id=user_id, device_id=device_id).delete()[0]


def save_pusher(user_id: str, app_id: str, pushkey: str, values: dict[str, Any], *, others_too: bool,
                now_ms: int) -> None:
    """Create or update the user's pusher for (app_id, pushkey); `others_too` removes the same pusher of
    other users. A new pusher starts at the present: it pushes what happens from now on."""
    with transaction.atomic():
        if others_too:
            Pusher.objects.filter(app_id=app_id, pushkey=pushkey).exclude(user_id=user_id).delete()
        updated = Pusher.objects.filter(user_id=user_id, app_id=app_id, pushkey=pushkey).update(**values)
        if not updated:
            Pusher.objects.create(user_id=user_id, app_id=app_id, pushkey=pushkey, created_ts=now_ms,
                                  last_stream_ordering=current_events_position(), **values)


def current_events_position() -> int:
    from apps.rooms.models import EventRow

    return EventRow.objects.aggregate(m=Max("stream_ordering"))["m"] or 0
