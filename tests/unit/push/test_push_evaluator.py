"""Push rule evaluation, with the spec's own examples (client-server API, "Conditions"; appendices,
"Dot-separated property paths" and "Glob-style matching")."""
from __future__ import annotations

import pytest

from apps.push import default_rules
from apps.push.evaluator import (
    EvalContext, condition_matches, first_match, glob_matches, outcome, resolve, rule_matches, split_path,
)

ME = "@me:example.org"


def ev(content=None, **fields):
    return {"type": "m.room.message", "sender": "@example:example.org", "room_id": "!636q39766251:example.com",
            "event_id": "$1:example.org", "content": content if content is not None else {}, **fields}


def match(cond, event, ctx=None):
    return condition_matches(cond, event, ctx or EvalContext())


# --- dotted paths --------------------------------------------------------------------------------

@pytest.mark.parametrize("key,parts", [
    ("content.body", ("content", "body")),
    ("content.m\\.relates_to", ("content", "m.relates_to")),
    ("content.m\\\\foo", ("content", "m\\foo")),
    ("content.m\\xfoo", ("content", "m\\xfoo")),          # other escapes are kept as written
    ("content.m\\.mentions.user_ids", ("content", "m.mentions", "user_ids")),
    ("a\\\\.b", ("a\\", "b")),                             # an escaped backslash, then a separator
])
def test_split_path(key, parts):
    assert split_path(key) == parts


def test_resolve_missing_and_non_object_steps():
    e = ev({"body": "x", "m.relates_to": {"rel_type": "m.replace"}})
    assert resolve(e, "content.m\\.relates_to.rel_type") == "m.replace"
    assert resolve(e, "content.nope") is not None and resolve(e, "content.nope") != "x"
    assert resolve(e, "content.body.deeper") is resolve(e, "content.nope")


# --- event_match -----------------------------------------------------------------------------------

TOPIC = {"kind": "event_match", "key": "content.topic", "pattern": "lunc?*"}


@pytest.mark.parametrize("topic,expected", [
    ("Lunch plans", True), ("LUNCH", True), (" lunch", False), ("lunc", False), (None, False),
])
def test_event_match_spec_topic_example(topic, expected):
    e = ev({"topic": topic}, type="m.room.topic", state_key="")
    assert match(TOPIC, e) is expected


def test_event_match_absent_key_never_matches_even_star():
    assert not match({"kind": "event_match", "key": "content.topic", "pattern": "*"}, ev({}))
    assert match({"kind": "event_match", "key": "content.topic", "pattern": "*"}, ev({"topic": ""}))


BODY = {"kind": "event_match", "key": "content.body", "pattern": "ex*ple"}


@pytest.mark.parametrize("body,expected", [
    ("An example event.", True), ("exple", True), ("An exciting triple-whammy", True),
    ("examples", False), ("Anexample", False), ("an EXAMPLE", True),
])
def test_event_match_body_word_boundaries(body, expected):
    assert match(BODY, ev({"body": body})) is expected


def test_glob_other_characters_are_literal():
    assert glob_matches("a.b", "a.b") and not glob_matches("a.b", "axb")
    assert glob_matches("[x]", "[x]") and not glob_matches("[x]", "x")
    assert glob_matches("m.room.*", "m.room.message")
    assert glob_matches("", "") and not glob_matches("", "x")


# --- event_property_is / _contains -----------------------------------------------------------------

FEDERATE = {"kind": "event_property_is", "key": "content.m\\.federate", "value": True}


@pytest.mark.parametrize("value,expected", [(True, True), ("true", False), (1, False), (False, False)])
def test_event_property_is_spec_example(value, expected):
    e = ev({"creator": "@example:example.org", "m.federate": value, "room_version": "1"},
           type="m.room.create", state_key="")
    assert match(FEDERATE, e) is expected


def test_event_property_is_null_and_integers():
    assert match({"kind": "event_property_is", "key": "content.x", "value": None}, ev({"x": None}))
    assert not match({"kind": "event_property_is", "key": "content.x", "value": None}, ev({}))
    assert match({"kind": "event_property_is", "key": "content.n", "value": 5}, ev({"n": 5}))
    assert not match({"kind": "event_property_is", "key": "content.n", "value": 1}, ev({"n": True}))
    assert not match({"kind": "event_property_is", "key": "content.o", "value": {}}, ev({"o": {}}))


ALIASES = {"kind": "event_property_contains", "key": "content.alt_aliases", "value": "#myroom:example.com"}


def test_event_property_contains_spec_example():
    e = ev({"alias": "#somewhere:localhost", "alt_aliases": ["#somewhere:example.org", "#myroom:example.com"]},
           type="m.room.canonical_alias", state_key="")
    assert match(ALIASES, e)
    assert not match(ALIASES, ev({"alt_aliases": [":example.com"]}))
    assert not match(ALIASES, ev({"alt_aliases": "#myroom:example.com"}))  # not an array
    assert not match({**ALIASES, "value": 1}, ev({"alt_aliases": [True]}))


# --- contains_display_name, room_member_count, sender_notification_permission ----------------------

def test_contains_display_name():
    cond = {"kind": "contains_display_name"}
    ctx = EvalContext(display_name="Alice B")
    assert match(cond, ev({"body": "hey alice b, lunch?"}), ctx)
    assert not match(cond, ev({"body": "hey alice bob"}), ctx)
    assert not match(cond, ev({"body": "hey"}), ctx)
    assert not match(cond, ev({"body": "hey"}), EvalContext(display_name=None))
    assert match(cond, ev({"body": "A.l.i.c.e? no, Alice B!"}), EvalContext(display_name=lambda: "Alice B"))


@pytest.mark.parametrize("is_,count,expected", [
    ("2", 2, True), ("2", 3, False), ("==2", 2, True), ("<10", 9, True), ("<10", 10, False),
    (">2", 3, True), (">2", 2, False), (">=2", 2, True), ("<=10", 10, True), ("<=10", 11, False),
    ("x", 2, False), ("=2", 2, False), ("", 0, False),
])
def test_room_member_count(is_, count, expected):
    assert match({"kind": "room_member_count", "is": is_}, ev(), EvalContext(member_count=count)) is expected


def test_sender_notification_permission():
    cond = {"kind": "sender_notification_permission", "key": "room"}
    assert match(cond, ev(), EvalContext(sender_power_level=lambda: 50, notification_level=lambda k: 50))
    assert not match(cond, ev(), EvalContext(sender_power_level=lambda: 49, notification_level=lambda k: 50))


def test_unknown_or_malformed_conditions_never_match():
    assert not match({"kind": "something_new"}, ev())
    assert not match({"kind": "event_match", "key": "type"}, ev())
    assert not match("event_match", ev())
    assert not rule_matches("override", {"rule_id": "x", "enabled": True, "conditions": [{"kind": "nope"}],
                                         "actions": ["notify"]}, ev(), EvalContext())


# --- actions ---------------------------------------------------------------------------------------

def test_outcome_highlight_and_legacy_actions():
    assert outcome(["notify", {"set_tweak": "highlight"}]) .highlight
    assert not outcome(["notify", {"set_tweak": "highlight", "value": False}]).highlight
    assert not outcome(["notify"]).highlight
    legacy = outcome(["dont_notify"])
    assert not legacy.notify and legacy.actions == ()
    assert outcome(["notify", "coalesce"]).actions == ("notify",)


# --- the default ruleset -----------------------------------------------------------------------------

def _defaults(user_id=ME):
    return [(k, r) for k in ("override", "content", "room", "sender", "underride")
            for r in default_rules.for_user(k, user_id)]


def _winner(event, ctx=None):
    rule = first_match(_defaults(), event, ctx or EvalContext(member_count=3))
    return rule["rule_id"] if rule else None


def test_default_rule_ids_and_order_are_the_specs():
    ids = [r["rule_id"] for _, r in _defaults()]
    assert ids == [
        ".m.rule.master", ".m.rule.suppress_notices", ".m.rule.invite_for_me", ".m.rule.member_event",
        ".m.rule.is_user_mention", ".m.rule.is_room_mention", ".m.rule.tombstone", ".m.rule.reaction",
        ".m.rule.room.server_acl", ".m.rule.suppress_edits",
        ".m.rule.call", ".m.rule.encrypted_room_one_to_one", ".m.rule.room_one_to_one", ".m.rule.message",
        ".m.rule.encrypted",
    ]
    assert all(r["default"] for _, r in _defaults())
    assert [r["rule_id"] for _, r in _defaults() if not r["enabled"]] == [".m.rule.master"]


def test_defaults_substitute_the_user_id():
    invite = default_rules.for_user("override", ME)[2]
    assert invite["conditions"][2] == {"kind": "event_match", "key": "state_key", "pattern": ME}
    mention = default_rules.for_user("override", ME)[4]
    assert mention["conditions"][0]["value"] == ME


def test_default_rules_pick_the_right_rule():
    assert _winner(ev({"msgtype": "m.text", "body": "hi"})) == ".m.rule.message"
    assert _winner(ev({"msgtype": "m.text", "body": "hi"}), EvalContext(member_count=2)) == ".m.rule.room_one_to_one"
    assert _winner(ev({"msgtype": "m.notice", "body": "bot"})) == ".m.rule.suppress_notices"
    assert _winner(ev({"body": "x", "m.mentions": {"user_ids": [ME]}})) == ".m.rule.is_user_mention"
    assert _winner(ev({"membership": "invite"}, type="m.room.member", state_key=ME)) == ".m.rule.invite_for_me"
    assert _winner(ev({"membership": "join"}, type="m.room.member", state_key="@x:y")) == ".m.rule.member_event"
    assert _winner(ev({"m.relates_to": {"rel_type": "m.replace", "event_id": "$a"}, "body": "* x"})) \
        == ".m.rule.suppress_edits"
    assert _winner(ev({}, type="m.reaction")) == ".m.rule.reaction"
    assert _winner(ev({}, type="m.call.invite")) == ".m.rule.call"
    assert _winner(ev({}, type="m.room.encrypted")) == ".m.rule.encrypted"
    assert _winner(ev({}, type="m.room.encrypted"), EvalContext(member_count=2)) == ".m.rule.encrypted_room_one_to_one"
    assert _winner(ev({"body": "x"}, type="m.room.tombstone", state_key="")) == ".m.rule.tombstone"
    assert _winner(ev({}, type="m.room.server_acl", state_key="")) == ".m.rule.room.server_acl"
    assert _winner(ev({}, type="m.room.topic", state_key="")) is None


def test_room_mention_needs_the_senders_permission():
    e = ev({"body": "@room", "m.mentions": {"room": True}})
    allowed = EvalContext(member_count=5, sender_power_level=lambda: 50, notification_level=lambda k: 50)
    denied = EvalContext(member_count=5, sender_power_level=lambda: 0, notification_level=lambda k: 50)
    assert _winner(e, allowed) == ".m.rule.is_room_mention"
    assert _winner(e, denied) == ".m.rule.message"


def test_default_mention_and_message_outcomes():
    rules = dict((r["rule_id"], r) for _, r in _defaults())
    assert outcome(rules[".m.rule.is_user_mention"]["actions"]) .highlight
    assert outcome(rules[".m.rule.message"]["actions"]).notify
    assert not outcome(rules[".m.rule.message"]["actions"]).highlight
    assert not outcome(rules[".m.rule.suppress_edits"]["actions"]).notify


def test_room_sender_and_content_rules():
    e = ev({"body": "I like cake a lot"})
    assert rule_matches("room", {"rule_id": e["room_id"], "enabled": True}, e, EvalContext())
    assert not rule_matches("room", {"rule_id": "!other:x", "enabled": True}, e, EvalContext())
    assert rule_matches("sender", {"rule_id": e["sender"], "enabled": True}, e, EvalContext())
    assert rule_matches("content", {"rule_id": "c", "pattern": "cake", "enabled": True}, e, EvalContext())
    assert not rule_matches("content", {"rule_id": "c", "pattern": "cak", "enabled": True}, e, EvalContext())
    assert not rule_matches("content", {"rule_id": "c", "pattern": "cake", "enabled": False}, e, EvalContext())
