"""The rules of the push API: push rules (read, add, order, enable, actions, delete), pushers, and the
list of notifications.

Spec: client-server API, "Push Rules: API", "Client behaviour" (pushers), "Listing Notifications".
Every change of a user's rules bumps the `push_rules` stream in the same transaction (the
`m.push_rules` account data event of the next `/sync`).
"""
from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction

from apps.core.errors import Codes, MatrixError

from . import default_rules, stores
from .evaluator import KINDS, is_exact_value, strip_legacy
from .models import Pusher
from .rules import ruleset_for_api

_NOT_FOUND = "The push rule was not found."


def _now_ms() -> int:
    return int(time.time() * 1000)


def _check_scope(scope: str) -> None:
    if scope != "global":
        raise MatrixError(Codes.INVALID_PARAM, f"Unknown push rule scope {scope!r}: only 'global' exists", 400)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise MatrixError(Codes.INVALID_PARAM, f"Unknown push rule kind {kind!r}: one of {', '.join(KINDS)}", 400)


# --- reading -------------------------------------------------------------------------------------------

def get_all(user_id: str) -> dict[str, Any]:
    return {"global": ruleset_for_api(user_id)}


def get_global(user_id: str) -> dict[str, Any]:
    return ruleset_for_api(user_id)


def get_rule(user_id: str, scope: str, kind: str, rule_id: str) -> dict[str, Any]:
    _check_scope(scope)
    _check_kind(kind)
    for rule in ruleset_for_api(user_id)[kind]:
        if rule["rule_id"] == rule_id:
            return rule
    raise MatrixError(Codes.NOT_FOUND, _NOT_FOUND, 404)


# --- validation ----------------------------------------------------------------------------------------

def validate_actions(actions: Any) -> list[Any]:
    """A rule's actions: `notify`, `set_tweak` objects, and the historical `dont_notify`/`coalesce`
    (accepted, and stripped: spec "Historical Actions")."""
    if not isinstance(actions, list):
        raise MatrixError(Codes.BAD_JSON, "actions must be an array", 400)
    for a in actions:
        if isinstance(a, str):
            if a not in ("notify", "dont_notify", "coalesce"):
                raise MatrixError(Codes.INVALID_PARAM, f"Unrecognised action {a!r}", 400)
        elif isinstance(a, dict):
            if not isinstance(a.get("set_tweak"), str) or not a["set_tweak"]:
                raise MatrixError(Codes.INVALID_PARAM, "An action object must be a set_tweak with a tweak name", 400)
        else:
            raise MatrixError(Codes.INVALID_PARAM, "Actions must be strings or objects", 400)
    return strip_legacy(actions)


def _validate_conditions(conditions: Any) -> list[dict[str, Any]]:
    if conditions is None:
        return []
    if not isinstance(conditions, list):
        raise MatrixError(Codes.BAD_JSON, "conditions must be an array", 400)
    for c in conditions:
        if not isinstance(c, dict) or not isinstance(c.get("kind"), str):
            raise MatrixError(Codes.INVALID_PARAM, "Each condition must be an object with a string 'kind'", 400)
        kind = c["kind"]
        if kind == "event_match":
            if not isinstance(c.get("key"), str) or not isinstance(c.get("pattern"), str):
                raise MatrixError(Codes.INVALID_PARAM, "event_match needs string 'key' and 'pattern'", 400)
        elif kind in ("event_property_is", "event_property_contains"):
            if not isinstance(c.get("key"), str) or "value" not in c or not is_exact_value(c["value"]):
                raise MatrixError(Codes.INVALID_PARAM,
                                  f"{kind} needs a string 'key' and a string, integer, boolean or null 'value'", 400)
        elif kind == "room_member_count":
            if not isinstance(c.get("is"), str) or not re.fullmatch(r"(==|<=|>=|<|>)?[0-9]+", c["is"]):
                raise MatrixError(Codes.INVALID_PARAM, "room_member_count needs 'is' like '2', '<10' or '>=3'", 400)
        elif kind == "sender_notification_permission":
            if not isinstance(c.get("key"), str):
                raise MatrixError(Codes.INVALID_PARAM, "sender_notification_permission needs a string 'key'", 400)
        # Other kinds are stored as given: an unrecognised condition never matches (spec).
    return conditions


def _check_new_rule_id(kind: str, rule_id: str) -> None:
    if rule_id.startswith("."):
        raise MatrixError(Codes.INVALID_PARAM, "Rule IDs starting with '.' are reserved for server-default rules", 400)
    if not rule_id or "/" in rule_id or "\\" in rule_id:
        raise MatrixError(Codes.INVALID_PARAM, "A rule ID must be non-empty and contain no '/' or '\\'", 400)
    if kind == "room" and not rule_id.startswith("!"):
        raise MatrixError(Codes.INVALID_PARAM, "The rule ID of a room rule is the room's ID", 400)
    if kind == "sender" and not rule_id.startswith("@"):
        raise MatrixError(Codes.INVALID_PARAM, "The rule ID of a sender rule is the sender's user ID", 400)


# --- writing -------------------------------------------------------------------------------------------

def set_rule(user_id: str, scope: str, kind: str, rule_id: str, body: dict[str, Any], *,
             before: str | None, after: str | None) -> None:
    """PUT a user rule: created (enabled, as the most important user rule of its kind unless placed by
    `before`/`after`) or updated in place (keeping its position unless placed)."""
    _check_scope(scope)
    _check_kind(kind)
    _check_new_rule_id(kind, rule_id)
    if "actions" not in body:
        raise MatrixError(Codes.MISSING_PARAM, "Missing parameter: actions", 400)
    actions = validate_actions(body["actions"])
    conditions: list = []
    pattern = None
    if kind in ("override", "underride"):
        conditions = _validate_conditions(body.get("conditions"))
    elif kind == "content":
        pattern = body.get("pattern")
        if pattern is None:
            raise MatrixError(Codes.MISSING_PARAM, "A content rule needs a 'pattern'", 400)
        if not isinstance(pattern, str):
            raise MatrixError(Codes.BAD_JSON, "pattern must be a string", 400)
    anchor = before if before is not None else after
    if anchor is not None and anchor.startswith("."):
        raise MatrixError(Codes.INVALID_PARAM, "A rule cannot be placed relative to a server-default rule", 400)

    with transaction.atomic():
        rules = stores.rules_of_kind(user_id, kind, lock=True)
        others = [r for r in rules if r.rule_id != rule_id]
        place_at: int | None = None if len(others) < len(rules) else 0  # a new rule goes first
        if anchor is not None:
            idx = next((i for i, r in enumerate(others) if r.rule_id == anchor), None)
            if idx is None:
                # The spec's own example of this error (setPushRule, 400).
                raise MatrixError(Codes.UNKNOWN, f"before/after rule not found: {anchor}", 400)
            place_at = idx if before is not None else idx + 1
        rule = stores.save_user_rule(user_id, kind, rule_id, actions=actions, conditions=conditions, pattern=pattern)
        if place_at is not None:
            stores.save_rule_order(others[:place_at] + [rule] + others[place_at:])
        stores.bump_rules_version(user_id)


def delete_rule(user_id: str, scope: str, kind: str, rule_id: str) -> None:
    _check_scope(scope)
    _check_kind(kind)
    if rule_id.startswith("."):
        if default_rules.KIND_OF.get(rule_id) == kind:
            raise MatrixError(Codes.INVALID_PARAM, "Server-default rules cannot be deleted (disable them instead)", 400)
        raise MatrixError(Codes.NOT_FOUND, _NOT_FOUND, 404)
    with transaction.atomic():
        if not stores.delete_user_rule(user_id, kind, rule_id):
            raise MatrixError(Codes.NOT_FOUND, _NOT_FOUND, 404)
        stores.bump_rules_version(user_id)


def _is_default(kind: str, rule_id: str) -> bool:
    return default_rules.KIND_OF.get(rule_id) == kind


def get_enabled(user_id: str, scope: str, kind: str, rule_id: str) -> dict[str, Any]:
    return {"enabled": get_rule(user_id, scope, kind, rule_id)["enabled"]}


def get_actions(user_id: str, scope: str, kind: str, rule_id: str) -> dict[str, Any]:
    return {"actions": get_rule(user_id, scope, kind, rule_id)["actions"]}


def _set_attribute(user_id: str, scope: str, kind: str, rule_id: str, name: str, value: Any) -> None:
    _check_scope(scope)
    _check_kind(kind)
    with transaction.atomic():
        if _is_default(kind, rule_id):
            stores.set_default_setting(user_id, rule_id, **{name: value})
        else:
            rule = stores.get_user_rule(user_id, kind, rule_id, lock=True)
            if rule is None:
                raise MatrixError(Codes.NOT_FOUND, _NOT_FOUND, 404)
            setattr(rule, name, value)
            rule.save(update_fields=[name])
        stores.bump_rules_version(user_id)


def set_enabled(user_id: str, scope: str, kind: str, rule_id: str, enabled: bool) -> None:
    _set_attribute(user_id, scope, kind, rule_id, "enabled", enabled)


def set_actions(user_id: str, scope: str, kind: str, rule_id: str, actions: Any) -> None:
    _set_attribute(user_id, scope, kind, rule_id, "actions", validate_actions(actions))


def push_rules_content(user_id: str) -> dict[str, Any]:
    """The content of the user's `m.push_rules` account data event."""
    return get_all(user_id)


# --- pushers -------------------------------------------------------------------------------------------

_PUSHER_FIELDS = ("pushkey", "kind", "app_id", "app_display_name", "device_display_name", "profile_tag", "lang",
                  "data")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NOTIFY_PATH = "/_matrix/push/v1/notify"


def pusher_json(p: Pusher) -> dict[str, Any]:
    d = {"pushkey": p.pushkey, "kind": p.kind, "app_id": p.app_id, "app_display_name": p.app_display_name,
         "device_display_name": p.device_display_name, "lang": p.lang, "data": p.data}
    if p.profile_tag:
        d["profile_tag"] = p.profile_tag
    return d


def get_pushers(user_id: str) -> dict[str, Any]:
    return {"pushers": [pusher_json(p) for p in stores.pushers_of(user_id)]}


def _check_gateway_url(url: Any) -> None:
    if not isinstance(url, str):
        raise MatrixError(Codes.MISSING_PARAM, "An http pusher needs data.url", 400)
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    # The spec asks for HTTPS; plain http is accepted too so a gateway on a private network or in a
    # test can be used (the outbound client's IP range blacklist still applies when pushing).
    if parts is None or parts.scheme not in ("https", "http") or not parts.hostname:
        raise MatrixError(Codes.INVALID_PARAM, "data.url must be an absolute http(s) URL", 400)
    if parts.path != NOTIFY_PATH:
        raise MatrixError(Codes.INVALID_PARAM, f"data.url must have the path {NOTIFY_PATH}", 400)


def set_pusher(user_id: str, device_id: str | None, body: dict[str, Any]) -> None:
    """POST /pushers/set: create or update (kind http or email), or delete (kind null), the user's pusher
    for (app_id, pushkey); unless `append`, the same pusher of other users is removed."""
    missing = [k for k in ("kind", "app_id", "pushkey") if k not in body]
    if missing:
        raise MatrixError(Codes.MISSING_PARAM, f"Missing parameters: {', '.join(missing)}", 400)
    app_id, pushkey, kind = body["app_id"], body["pushkey"], body["kind"]
    if not isinstance(app_id, str) or not app_id or len(app_id) > 64:
        raise MatrixError(Codes.INVALID_PARAM, "app_id must be a non-empty string of at most 64 characters", 400)
    if not isinstance(pushkey, str) or not pushkey or len(pushkey.encode()) > 512:
        raise MatrixError(Codes.INVALID_PARAM, "pushkey must be a non-empty string of at most 512 bytes", 400)
    if kind is None:
        stores.delete_pusher(user_id, app_id, pushkey)
        return
    if kind not in ("http", "email"):
        raise MatrixError(Codes.INVALID_PARAM, "kind must be 'http', 'email' or null", 400)
    missing = [k for k in ("app_display_name", "device_display_name", "lang", "data") if body.get(k) is None]
    if missing:
        raise MatrixError(Codes.MISSING_PARAM, f"Missing parameters: {', '.join(missing)}", 400)
    for k in ("app_display_name", "device_display_name", "lang"):
        if not isinstance(body[k], str):
            raise MatrixError(Codes.BAD_JSON, f"{k} must be a string", 400)
    profile_tag = body.get("profile_tag", "")
    if profile_tag is not None and not isinstance(profile_tag, str):
        raise MatrixError(Codes.BAD_JSON, "profile_tag must be a string", 400)
    data = body["data"]
    if not isinstance(data, dict):
        raise MatrixError(Codes.BAD_JSON, "data must be an object", 400)
    if kind == "http":
        _check_gateway_url(data.get("url"))
        if "format" in data and data["format"] != "event_id_only":
            raise MatrixError(Codes.INVALID_PARAM, "data.format must be 'event_id_only' when given", 400)
    else:
        if app_id != "m.email":
            raise MatrixError(Codes.INVALID_PARAM, "The app_id of an email pusher is 'm.email'", 400)
        if not _EMAIL.match(pushkey):
            raise MatrixError(Codes.INVALID_PARAM, "The pushkey of an email pusher is an email address", 400)
    append = body.get("append", False)
    if not isinstance(append, bool):
        raise MatrixError(Codes.BAD_JSON, "append must be a boolean", 400)

    values = {"kind": kind, "data": data, "lang": body["lang"], "device_display_name": body["device_display_name"],
              "app_display_name": body["app_display_name"], "profile_tag": profile_tag or "", "device_id": device_id}
    stores.save_pusher(user_id, app_id, pushkey, values, others_too=not append, now_ms=_now_ms())


# --- notifications -----------------------------------------------------------------------------------

DEFAULT_NOTIFICATIONS_LIMIT = 20
MAX_NOTIFICATIONS_LIMIT = 100


def get_notifications(requester, *, from_token: str | None, limit: int | None, only: str | None) -> dict[str, Any]:
    """GET /notifications: the user's notifying push actions, newest first; `next_token` is the stream
    position to continue below, absent when there is nothing more."""
    from apps.rooms import stores as room_stores
    from apps.rooms.serialize import client_event

    from .counts import read_positions

    before = None
    if from_token is not None:
        if not from_token.isdigit() or len(from_token) > 18:
            raise MatrixError(Codes.INVALID_PARAM, "Invalid from token", 400)
        before = int(from_token)
    limit = DEFAULT_NOTIFICATIONS_LIMIT if limit is None else max(1, min(limit, MAX_NOTIFICATIONS_LIMIT))
    rows = stores.notifications_page(requester.user_id, before=before, limit=limit,
                                     only_highlight=(only == "highlight"))
    events = room_stores.get_events(r.event_id for r in rows)
    reads = read_positions(requester.user_id, {r.room_id for r in rows})
    now = _now_ms()
    out = []
    for r in rows:
        ev = events.get(r.event_id)
        if ev is None:
            continue
        out.append({
            "actions": r.actions, "room_id": r.room_id, "ts": r.ts,
            "read": r.stream_ordering <= reads.position(r.room_id, r.thread_id),
            "event": client_event(ev, now_ms=now, requester_user_id=requester.user_id,
                                  requester_device_id=requester.device_id, format="client_without_room_id"),
        })
    body: dict[str, Any] = {"notifications": out}
    if len(rows) == limit:
        body["next_token"] = str(rows[-1].stream_ordering)
    return body

