"""Push rules API: getPushRules, getPushRulesGlobal, getPushRule, setPushRule (before/after),
deletePushRule, isPushRuleEnabled/setPushRuleEnabled, getPushRuleActions/setPushRuleActions, and the
`m.push_rules` account data event of /sync."""
from __future__ import annotations

import pytest

from tests.api.sync.helpers import sync
from tests.conftest import assert_error

pytestmark = pytest.mark.django_db(transaction=True)

API = "/_matrix/client/v3"
R = f"{API}/pushrules/global"


def ids(client, kind):
    resp = client.get(f"{R}/")
    assert resp.status_code == 200, resp.json_body
    return [r["rule_id"] for r in resp.json_body[kind]]


def test_defaults_are_served_with_the_users_id(alice):
    body = alice.get(f"{API}/pushrules/").json_body
    assert set(body) == {"global"}
    rs = body["global"]
    assert set(rs) == {"override", "content", "room", "sender", "underride"}
    assert rs["override"][0] == {"rule_id": ".m.rule.master", "default": True, "enabled": False,
                                 "conditions": [], "actions": []}
    invite = next(r for r in rs["override"] if r["rule_id"] == ".m.rule.invite_for_me")
    assert invite["conditions"][2]["pattern"] == alice.user_id
    mention = next(r for r in rs["override"] if r["rule_id"] == ".m.rule.is_user_mention")
    assert mention["conditions"][0] == {"kind": "event_property_contains", "key": "content.m\\.mentions.user_ids",
                                        "value": alice.user_id}
    assert [r["rule_id"] for r in rs["underride"]] == [
        ".m.rule.call", ".m.rule.encrypted_room_one_to_one", ".m.rule.room_one_to_one", ".m.rule.message",
        ".m.rule.encrypted"]
    assert alice.get(f"{R}/").json_body == rs
    assert alice.get(f"{R}/override/.m.rule.master").json_body["enabled"] is False


def test_put_get_delete_content_rule(alice):
    resp = alice.put(f"{R}/content/nocake", {"pattern": "cake*lie", "actions": ["notify"]})
    assert resp.status_code == 200 and resp.json_body == {}
    assert alice.get(f"{R}/content/nocake").json_body == {
        "rule_id": "nocake", "default": False, "enabled": True, "pattern": "cake*lie", "actions": ["notify"]}
    assert alice.delete(f"{R}/content/nocake").status_code == 200
    assert_error(alice.get(f"{R}/content/nocake"), 404, "M_NOT_FOUND")
    assert_error(alice.delete(f"{R}/content/nocake"), 404, "M_NOT_FOUND")


def test_new_user_rule_goes_first_among_user_rules_after_master(alice):
    alice.put(f"{R}/override/one", {"conditions": [], "actions": []})
    alice.put(f"{R}/override/two", {"conditions": [], "actions": []})
    got = ids(alice, "override")
    assert got[:3] == [".m.rule.master", "two", "one"]
    assert got[3] == ".m.rule.suppress_notices"


def test_before_and_after_place_rules(alice):
    for rid in ("a", "b", "c"):
        alice.put(f"{R}/room/!{rid}:x", {"actions": []})
    assert ids(alice, "room") == ["!c:x", "!b:x", "!a:x"]
    assert alice.put(f"{R}/room/!d:x?before=!a:x", {"actions": []}).status_code == 200
    assert ids(alice, "room") == ["!c:x", "!b:x", "!d:x", "!a:x"]
    assert alice.put(f"{R}/room/!e:x?after=!c:x", {"actions": []}).status_code == 200
    assert ids(alice, "room") == ["!c:x", "!e:x", "!b:x", "!d:x", "!a:x"]
    # An existing rule moves when placed; `before` wins over `after`.
    assert alice.put(f"{R}/room/!c:x?before=!a:x&after=!b:x", {"actions": ["notify"]}).status_code == 200
    assert ids(alice, "room") == ["!e:x", "!b:x", "!d:x", "!c:x", "!a:x"]
    # Updated without before/after: it keeps its place.
    alice.put(f"{R}/room/!d:x", {"actions": ["notify"]})
    assert ids(alice, "room") == ["!e:x", "!b:x", "!d:x", "!c:x", "!a:x"]
    assert alice.get(f"{R}/room/!d:x/actions").json_body == {"actions": ["notify"]}


def test_put_errors(alice):
    assert_error(alice.put(f"{R}/override/.mine", {"actions": []}), 400, "M_INVALID_PARAM")
    assert_error(alice.put(f"{R}/override/.m.rule.master", {"actions": []}), 400, "M_INVALID_PARAM")
    assert_error(alice.put(f"{R}/override/a%5Cb", {"actions": []}), 400, "M_INVALID_PARAM")
    assert_error(alice.put(f"{R}/override/x", {}), 400, "M_MISSING_PARAM")
    assert_error(alice.put(f"{R}/override/x", {"actions": "notify"}), 400, "M_BAD_JSON")
    assert_error(alice.put(f"{R}/override/x", {"actions": ["explode"]}), 400, "M_INVALID_PARAM")
    assert_error(alice.put(f"{R}/override/x", {"actions": [{"value": 1}]}), 400, "M_INVALID_PARAM")
    assert_error(alice.put(f"{R}/override/x", {"actions": [], "conditions": [{"key": "type"}]}), 400,
                 "M_INVALID_PARAM")
    assert_error(alice.put(f"{R}/override/x", {"actions": [], "conditions": [{"kind": "event_match"}]}), 400,
                 "M_INVALID_PARAM")
    assert_error(alice.put(f"{R}/override/x", {"actions": [],
                                                "conditions": [{"kind": "room_member_count", "is": "lots"}]}),
                 400, "M_INVALID_PARAM")
    assert_error(alice.put(f"{R}/content/x", {"actions": []}), 400, "M_MISSING_PARAM")
    assert_error(alice.put(f"{R}/room/not-a-room", {"actions": []}), 400, "M_INVALID_PARAM")
    assert_error(alice.put(f"{R}/sender/not-a-user", {"actions": []}), 400, "M_INVALID_PARAM")
    assert_error(alice.put(f"{R}/sideways/x", {"actions": []}), 400, "M_INVALID_PARAM")
    assert_error(alice.put(f"{R}/override/x?before=.m.rule.master", {"actions": []}), 400, "M_INVALID_PARAM")
    assert_error(alice.put(f"{R}/override/x?before=nope", {"actions": []}), 400, "M_UNKNOWN")
    assert_error(alice.put(f"{API}/pushrules/device/override/x", {"actions": []}), 400, "M_INVALID_PARAM")
    assert_error(alice.put(f"{R}/override/x", raw=b"{nope"), 400, "M_NOT_JSON")
    # Nothing of the above was stored.
    assert ids(alice, "override")[1] == ".m.rule.suppress_notices"
    # An unknown condition kind is stored (it just never matches).
    assert alice.put(f"{R}/override/x", {"actions": [], "conditions": [{"kind": "future"}]}).status_code == 200


def test_legacy_actions_accepted_and_stripped(alice):
    assert alice.put(f"{R}/override/quiet", {"actions": ["dont_notify", "coalesce"]}).status_code == 200
    assert alice.get(f"{R}/override/quiet/actions").json_body == {"actions": []}


def test_server_defaults_cannot_be_deleted_but_can_be_changed(alice):
    assert_error(alice.delete(f"{R}/override/.m.rule.master"), 400, "M_INVALID_PARAM")
    assert_error(alice.delete(f"{R}/underride/.m.rule.master"), 404, "M_NOT_FOUND")
    assert_error(alice.get(f"{R}/underride/.m.rule.master"), 404, "M_NOT_FOUND")
    assert alice.get(f"{R}/override/.m.rule.master/enabled").json_body == {"enabled": False}
    assert alice.put(f"{R}/override/.m.rule.master/enabled", {"enabled": True}).status_code == 200
    assert alice.get(f"{R}/override/.m.rule.master/enabled").json_body == {"enabled": True}
    new = ["notify", {"set_tweak": "sound", "value": "bing"}]
    assert alice.put(f"{R}/underride/.m.rule.message/actions", {"actions": new}).status_code == 200
    assert alice.get(f"{R}/underride/.m.rule.message/actions").json_body == {"actions": new}
    rule = alice.get(f"{R}/underride/.m.rule.message").json_body
    assert rule["default"] is True and rule["actions"] == new


def test_enabled_and_actions_errors(alice, bob):
    assert_error(alice.get(f"{R}/override/nope/enabled"), 404, "M_NOT_FOUND")
    assert_error(alice.put(f"{R}/override/nope/enabled", {"enabled": True}), 404, "M_NOT_FOUND")
    assert_error(alice.get(f"{R}/override/nope/actions"), 404, "M_NOT_FOUND")
    assert_error(alice.put(f"{R}/override/nope/actions", {"actions": []}), 404, "M_NOT_FOUND")
    alice.put(f"{R}/override/mine", {"actions": ["notify"]})
    assert_error(alice.put(f"{R}/override/mine/enabled", {}), 400, "M_MISSING_PARAM")
    assert_error(alice.put(f"{R}/override/mine/enabled", {"enabled": "yes"}), 400, "M_BAD_JSON")
    assert_error(alice.put(f"{R}/override/mine/actions", {}), 400, "M_MISSING_PARAM")
    assert_error(alice.put(f"{R}/override/mine/actions", {"actions": ["boom"]}), 400, "M_INVALID_PARAM")
    assert alice.put(f"{R}/override/mine/enabled", {"enabled": False}).status_code == 200
    assert alice.get(f"{R}/override/mine").json_body["enabled"] is False
    # Rules are per user.
    assert_error(bob.get(f"{R}/override/mine"), 404, "M_NOT_FOUND")
    assert_error(alice.get(f"{R}/override/mine", token=None), 401, "M_MISSING_TOKEN")


def _push_rules_events(body):
    return [e for e in body["account_data"]["events"] if e["type"] == "m.push_rules"]


def test_sync_sends_push_rules_initially_and_when_changed(alice):
    first = sync(alice)
    events = _push_rules_events(first)
    assert len(events) == 1 and events[0]["content"]["global"]["override"][0]["rule_id"] == ".m.rule.master"
    quiet = sync(alice, first["next_batch"], timeout=0)
    assert _push_rules_events(quiet) == []
    alice.put(f"{R}/sender/@spambot:example.org", {"actions": []})
    changed = sync(alice, quiet["next_batch"], timeout=5000)
    events = _push_rules_events(changed)
    assert len(events) == 1
    assert [r["rule_id"] for r in events[0]["content"]["global"]["sender"]] == ["@spambot:example.org"]
    assert _push_rules_events(sync(alice, changed["next_batch"], timeout=0)) == []


def test_sync_push_rules_respects_the_account_data_filter(alice):
    body = sync(alice, filter={"account_data": {"not_types": ["m.push_rules"]}})
    assert _push_rules_events(body) == []


def test_other_users_rule_change_does_not_reach_my_sync(alice, bob):
    since = sync(alice)["next_batch"]
    bob.put(f"{R}/override/x", {"actions": []})
    assert _push_rules_events(sync(alice, since, timeout=0)) == []
