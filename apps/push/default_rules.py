"""The server-default push rules, exactly as the spec lists them, in its order.

Spec: client-server API, "Predefined Rules" (v1.17: the legacy rules that looked for mentions in
`content.body` are gone, so there are no default `content` rules). Rules mentioning the user carry the
placeholder `USER_ID`, replaced per user by `for_user`. `.m.rule.master` is always the most important
rule, above the user's own; every other default rule is less important than the user's rules of its
kind (`apps.push.rules.ruleset`).
"""
from __future__ import annotations

import copy
from typing import Any

USER_ID = "[the user's Matrix ID]"
MASTER = ".m.rule.master"


def _rule(rule_id: str, conditions: list[dict], actions: list, *, enabled: bool = True) -> dict[str, Any]:
    return {"rule_id": rule_id, "default": True, "enabled": enabled, "conditions": conditions, "actions": actions}


def _match(key: str, pattern: str) -> dict[str, str]:
    return {"kind": "event_match", "key": key, "pattern": pattern}


_SOUND_DEFAULT = {"set_tweak": "sound", "value": "default"}
_HIGHLIGHT = {"set_tweak": "highlight"}

OVERRIDE: list[dict[str, Any]] = [
    _rule(MASTER, [], [], enabled=False),
    _rule(".m.rule.suppress_notices", [_match("content.msgtype", "m.notice")], []),
    _rule(".m.rule.invite_for_me",
          [_match("type", "m.room.member"), _match("content.membership", "invite"), _match("state_key", USER_ID)],
          ["notify", _SOUND_DEFAULT]),
    _rule(".m.rule.member_event", [_match("type", "m.room.member")], []),
    _rule(".m.rule.is_user_mention",
          [{"kind": "event_property_contains", "key": "content.m\\.mentions.user_ids", "value": USER_ID}],
          ["notify", _SOUND_DEFAULT, _HIGHLIGHT]),
    _rule(".m.rule.is_room_mention",
          [{"kind": "event_property_is", "key": "content.m\\.mentions.room", "value": True},
           {"kind": "sender_notification_permission", "key": "room"}],
          ["notify", _HIGHLIGHT]),
    _rule(".m.rule.tombstone", [_match("type", "m.room.tombstone"), _match("state_key", "")],
          ["notify", _HIGHLIGHT]),
    _rule(".m.rule.reaction", [_match("type", "m.reaction")], []),
    _rule(".m.rule.room.server_acl", [_match("type", "m.room.server_acl"), _match("state_key", "")], []),
    _rule(".m.rule.suppress_edits",
          [{"kind": "event_property_is", "key": "content.m\\.relates_to.rel_type", "value": "m.replace"}], []),
]

CONTENT: list[dict[str, Any]] = []

UNDERRIDE: list[dict[str, Any]] = [
    _rule(".m.rule.call", [_match("type", "m.call.invite")], ["notify", {"set_tweak": "sound", "value": "ring"}]),
    _rule(".m.rule.encrypted_room_one_to_one",
          [{"kind": "room_member_count", "is": "2"}, _match("type", "m.room.encrypted")],
          ["notify", _SOUND_DEFAULT]),
    _rule(".m.rule.room_one_to_one",
          [{"kind": "room_member_count", "is": "2"}, _match("type", "m.room.message")],
          ["notify", _SOUND_DEFAULT]),
    _rule(".m.rule.message", [_match("type", "m.room.message")], ["notify"]),
    _rule(".m.rule.encrypted", [_match("type", "m.room.encrypted")], ["notify"]),
]

BY_KIND: dict[str, list[dict[str, Any]]] = {
    "override": OVERRIDE, "content": CONTENT, "room": [], "sender": [], "underride": UNDERRIDE,
}
KIND_OF: dict[str, str] = {r["rule_id"]: kind for kind, rules in BY_KIND.items() for r in rules}


def _substitute(value: Any, user_id: str) -> Any:
    if value == USER_ID:
        return user_id
    if isinstance(value, dict):
        return {k: _substitute(v, user_id) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, user_id) for v in value]
    return value


def for_user(kind: str, user_id: str) -> list[dict[str, Any]]:
    """The default rules of `kind` for `user_id` (fresh copies: callers may change them)."""
    return [_substitute(copy.deepcopy(r), user_id) for r in BY_KIND[kind]]
