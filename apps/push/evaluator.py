"""Push rule evaluation: which rule of a user's ruleset matches an event, and what its actions mean.

Pure functions over plain data (the event as a dict, the rules as dicts, and an `EvalContext` that
answers the few questions about the room a condition may ask). Nothing here touches the database: the
push-actions hook (`apps.push.actions`) loads what the context needs, once per event, and calls
`first_match` per user.

Spec: client-server API, "Push Rules" (kinds, conditions, actions), appendices "Glob-style matching"
and "Dot-separated property paths".
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Iterable

KINDS = ("override", "content", "room", "sender", "underride")

# Actions older versions of the spec defined; clients and servers MUST ignore them ("Historical Actions").
LEGACY_ACTIONS = ("dont_notify", "coalesce")

_MISSING = object()
_WORD = "A-Za-z0-9_"
MAX_SAFE_INT = 2 ** 53 - 1


# --- dotted property paths ----------------------------------------------------------------------------

@lru_cache(maxsize=4096)
def split_path(key: str) -> tuple[str, ...]:
    """`content.m\\.relates_to.rel_type` -> ("content", "m.relates_to", "rel_type").

    A backslash escapes a literal dot or backslash; any other escape is kept as written (`\\x` is a
    backslash then `x`), as the appendix says."""
    parts: list[str] = []
    cur: list[str] = []
    i = 0
    while i < len(key):
        c = key[i]
        if c == "\\" and i + 1 < len(key) and key[i + 1] in ".\\":
            cur.append(key[i + 1])
            i += 2
            continue
        if c == ".":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return tuple(parts)


def resolve(event: dict[str, Any], key: str) -> Any:
    """The value at a dotted path, or `_MISSING` when any step is absent or not an object."""
    value: Any = event
    for part in split_path(key):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


# --- globs ----------------------------------------------------------------------------------------------

@lru_cache(maxsize=4096)
def _glob_regex(pattern: str, word_boundary: bool) -> re.Pattern:
    body = "".join(".*?" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    if word_boundary:
        # A substring starting and ending at a word boundary: start/end of the value or a character
        # outside [A-Za-z0-9_] (spec, `event_match` on `content.body`).
        return re.compile(rf"(?<![{_WORD}]){body}(?![{_WORD}])", re.IGNORECASE | re.DOTALL)
    return re.compile(rf"{body}\Z", re.IGNORECASE | re.DOTALL)


def glob_matches(pattern: str, value: str, *, word_boundary: bool = False) -> bool:
    rx = _glob_regex(pattern, word_boundary)
    return bool(rx.search(value) if word_boundary else rx.match(value))


def _contains_words(needle: str, haystack: str) -> bool:
    """`needle` as a literal, case-insensitively, starting and ending at word boundaries of `haystack`."""
    rx = re.compile(rf"(?<![{_WORD}]){re.escape(needle)}(?![{_WORD}])", re.IGNORECASE)
    return bool(rx.search(haystack))


# --- exact values -------------------------------------------------------------------------------------

def is_exact_value(value: Any) -> bool:
    """The non-compound canonical JSON values `event_property_is`/`_contains` compare: strings,
    integers in [-(2**53)+1, (2**53)-1], booleans and null."""
    if value is None or isinstance(value, (str, bool)):
        return True
    return isinstance(value, int) and -MAX_SAFE_INT <= value <= MAX_SAFE_INT


def _same_value(a: Any, b: Any) -> bool:
    # No casting: `true` is not `1` (Python's bool is an int) and "true" is not `true`.
    return is_exact_value(a) and is_exact_value(b) and type(a) is type(b) and a == b


# --- the context of one evaluation --------------------------------------------------------------------

@dataclass
class EvalContext:
    """What conditions may ask about the room, answered lazily (the hook loads power levels only if a
    rule reaches `sender_notification_permission`)."""

    member_count: int = 0
    # The evaluating user's display name in the room (None when they have none), or a function giving
    # it when first needed.
    display_name: "str | None | Callable[[], str | None]" = None
    # sender_power_level() and notification_level(key) are only called when a condition needs them.
    sender_power_level: Callable[[], int] = field(default=lambda: 0)
    notification_level: Callable[[str], int] = field(default=lambda key: 50)


_COUNT = re.compile(r"^(==|<=|>=|<|>)?([0-9]+)$")


def _member_count_matches(spec: Any, count: int) -> bool:
    if not isinstance(spec, str):
        return False
    m = _COUNT.match(spec)
    if m is None:
        return False
    op, n = m.group(1) or "==", int(m.group(2))
    return {"==": count == n, "<": count < n, ">": count > n, "<=": count <= n, ">=": count >= n}[op]


def condition_matches(cond: Any, event: dict[str, Any], ctx: EvalContext) -> bool:
    """One condition. An unrecognised or malformed condition never matches (spec: "Unrecognised
    conditions MUST NOT match any events")."""
    if not isinstance(cond, dict):
        return False
    kind = cond.get("kind")
    if kind == "event_match":
        key, pattern = cond.get("key"), cond.get("pattern")
        if not isinstance(key, str) or not isinstance(pattern, str):
            return False
        value = resolve(event, key)
        if not isinstance(value, str):
            return False
        return glob_matches(pattern, value, word_boundary=(key == "content.body"))
    if kind == "event_property_is":
        key = cond.get("key")
        if not isinstance(key, str) or "value" not in cond:
            return False
        return _same_value(resolve(event, key), cond["value"])
    if kind == "event_property_contains":
        key = cond.get("key")
        if not isinstance(key, str) or "value" not in cond:
            return False
        values = resolve(event, key)
        if not isinstance(values, list):
            return False
        return any(_same_value(v, cond["value"]) for v in values)
    if kind == "contains_display_name":
        body = resolve(event, "content.body")
        name = ctx.display_name() if callable(ctx.display_name) else ctx.display_name
        if not isinstance(body, str) or not name:
            return False
        return _contains_words(name, body)
    if kind == "room_member_count":
        return _member_count_matches(cond.get("is"), ctx.member_count)
    if kind == "sender_notification_permission":
        key = cond.get("key")
        if not isinstance(key, str):
            return False
        return ctx.sender_power_level() >= ctx.notification_level(key)
    return False


def rule_matches(kind: str, rule: dict[str, Any], event: dict[str, Any], ctx: EvalContext) -> bool:
    """Whether an enabled rule of `kind` matches (`room`, `sender` and `content` rules have predefined
    conditions; `override`/`underride` rules match when all their conditions hold)."""
    if not rule.get("enabled", True):
        return False
    if kind == "room":
        return event.get("room_id") == rule.get("rule_id")
    if kind == "sender":
        return event.get("sender") == rule.get("rule_id")
    if kind == "content":
        pattern, body = rule.get("pattern"), resolve(event, "content.body")
        return isinstance(pattern, str) and isinstance(body, str) and glob_matches(pattern, body, word_boundary=True)
    return all(condition_matches(c, event, ctx) for c in rule.get("conditions") or ())


def first_match(ruleset: Iterable[tuple[str, dict[str, Any]]], event: dict[str, Any],
                ctx: EvalContext) -> dict[str, Any] | None:
    """The highest-priority matching rule of an ordered `(kind, rule)` sequence, or None."""
    for kind, rule in ruleset:
        if rule_matches(kind, rule, event, ctx):
            return rule
    return None


# --- actions ------------------------------------------------------------------------------------------

def strip_legacy(actions: Iterable[Any]) -> list[Any]:
    return [a for a in actions if a not in LEGACY_ACTIONS]


@dataclass(frozen=True)
class Outcome:
    notify: bool
    highlight: bool
    actions: tuple[Any, ...]


def outcome(actions: Iterable[Any]) -> Outcome:
    """What a matched rule's actions mean for counts: `notify`, and the `highlight` tweak (true when
    given without a value, false when absent)."""
    acts = tuple(strip_legacy(actions))
    notify = "notify" in acts
    highlight = False
    for a in acts:
        if isinstance(a, dict) and a.get("set_tweak") == "highlight":
            highlight = a.get("value", True) is not False
    return Outcome(notify=notify, highlight=highlight, actions=acts)
