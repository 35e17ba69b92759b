"""The redaction algorithm, one vector per rule and per version difference
(rooms/fragments/v1-redactions.md, v6-redactions.md, v8.md, v9-redactions.md, v11-redactions.md)."""
import pytest

from apps.rooms.events import Event, InternalMetadata
from apps.rooms.redaction import prune_event, prune_event_dict
from apps.rooms.room_versions import KNOWN_ROOM_VERSIONS, V1, V2, V3, V5, V6, V7, V8, V9, V10, V11, V12

ALL = list(KNOWN_ROOM_VERSIONS.values())
PRE_V11 = [rv for rv in ALL if not rv.updated_redaction_rules]
V11_PLUS = [V11, V12]


def ev(type_, content, **extra):
    return {"type": type_, "content": content, "sender": "@u:a", "room_id": "!r:a",
            "origin_server_ts": 1, **extra}


# Top-level keys -----------------------------------------------------------------------------------
FULL_TOP = {
    "event_id": "$e:a", "type": "m.room.message", "room_id": "!r:a", "sender": "@u:a", "state_key": "",
    "content": {"body": "x"}, "hashes": {"sha256": "h"}, "signatures": {"a": {"ed25519:1": "s"}},
    "depth": 4, "prev_events": ["$p"], "prev_state": [], "auth_events": ["$q"], "origin": "a",
    "origin_server_ts": 7, "membership": "join", "unsigned": {"age_ts": 5}, "redacts": "$x",
    "age_ts": 5, "extra": 1, "outlier": True,
}
COMMON_TOP = {"event_id", "type", "room_id", "sender", "state_key", "content", "hashes", "signatures",
              "depth", "prev_events", "auth_events", "origin_server_ts"}


@pytest.mark.parametrize("rv", PRE_V11, ids=lambda rv: f"v{rv.identifier}")
def test_top_level_keys_v1_to_v10(rv):
    pruned = prune_event_dict(rv, FULL_TOP)
    assert set(pruned) == COMMON_TOP | {"prev_state", "origin", "membership"}
    assert pruned["content"] == {}
    # Everything kept is unchanged.
    assert all(pruned[k] == FULL_TOP[k] for k in pruned if k != "content")


@pytest.mark.parametrize("rv", V11_PLUS, ids=lambda rv: f"v{rv.identifier}")
def test_top_level_keys_v11_plus_drop_origin_membership_prev_state(rv):
    assert set(prune_event_dict(rv, FULL_TOP)) == COMMON_TOP


@pytest.mark.parametrize("rv", ALL, ids=lambda rv: f"v{rv.identifier}")
def test_unsigned_and_unknown_keys_and_top_level_redacts_are_removed(rv):
    pruned = prune_event_dict(rv, FULL_TOP)
    for key in ("unsigned", "redacts", "age_ts", "extra", "outlier"):
        assert key not in pruned


def test_input_not_modified():
    pdu = ev("m.room.power_levels", {"users": {"@u:a": 100}, "other": 1})
    before = repr(pdu)
    prune_event_dict(V1, pdu)
    assert repr(pdu) == before


def test_missing_content_becomes_empty_object():
    assert prune_event_dict(V1, {"type": "m.room.message", "sender": "@u:a"})["content"] == {}


def test_message_content_removed_in_all_versions():
    for rv in ALL:
        assert prune_event_dict(rv, ev("m.room.message", {"body": "hi", "msgtype": "m.text"}))["content"] == {}


# Content rules per event type ---------------------------------------------------------------------
MEMBER = {"membership": "join", "displayname": "D", "avatar_url": "mxc://a/b",
          "join_authorised_via_users_server": "@auth:b", "reason": "r",
          "third_party_invite": {"display_name": "x", "signed": {"mxid": "@u:a", "token": "t",
                                                                 "signatures": {}}}}


@pytest.mark.parametrize("rv, expected", [
    (V1, {"membership": "join"}),
    (V8, {"membership": "join"}),
    (V9, {"membership": "join", "join_authorised_via_users_server": "@auth:b"}),
    (V10, {"membership": "join", "join_authorised_via_users_server": "@auth:b"}),
    (V11, {"membership": "join", "join_authorised_via_users_server": "@auth:b",
           "third_party_invite": {"signed": MEMBER["third_party_invite"]["signed"]}}),
    (V12, {"membership": "join", "join_authorised_via_users_server": "@auth:b",
           "third_party_invite": {"signed": MEMBER["third_party_invite"]["signed"]}}),
], ids=lambda x: getattr(x, "identifier", ""))
def test_member(rv, expected):
    assert prune_event_dict(rv, ev("m.room.member", MEMBER, state_key="@u:a"))["content"] == expected


@pytest.mark.parametrize("tpi, expected", [
    ({"display_name": "x"}, {"third_party_invite": {}}),  # as Synapse and Ruma: an empty object stays
    ("not an object", {}),
])
def test_member_v11_third_party_invite_edge_cases(tpi, expected):
    content = {"membership": "invite", "third_party_invite": tpi}
    assert prune_event_dict(V11, ev("m.room.member", content))["content"] == {"membership": "invite", **expected}


CREATE = {"creator": "@u:a", "room_version": "1", "m.federate": False, "predecessor": {"room_id": "!o:a"},
          "additional_creators": ["@v:b"]}


@pytest.mark.parametrize("rv", PRE_V11, ids=lambda rv: f"v{rv.identifier}")
def test_create_keeps_only_creator_before_v11(rv):
    assert prune_event_dict(rv, ev("m.room.create", CREATE, state_key=""))["content"] == {"creator": "@u:a"}


@pytest.mark.parametrize("rv", V11_PLUS, ids=lambda rv: f"v{rv.identifier}")
def test_create_keeps_all_content_from_v11(rv):
    assert prune_event_dict(rv, ev("m.room.create", CREATE, state_key=""))["content"] == CREATE


JOIN_RULES = {"join_rule": "restricted", "allow": [{"type": "m.room_membership", "room_id": "!o:a"}],
              "other": 1}


@pytest.mark.parametrize("rv, keeps_allow", [(V1, False), (V6, False), (V7, False), (V8, True), (V9, True),
                                             (V10, True), (V11, True), (V12, True)],
                         ids=lambda x: getattr(x, "identifier", ""))
def test_join_rules_allow_from_v8(rv, keeps_allow):
    expected = {"join_rule": "restricted", **({"allow": JOIN_RULES["allow"]} if keeps_allow else {})}
    assert prune_event_dict(rv, ev("m.room.join_rules", JOIN_RULES, state_key=""))["content"] == expected


PL = {"ban": 50, "events": {"m.room.name": 50}, "events_default": 0, "invite": 0, "kick": 50, "redact": 50,
      "state_default": 50, "users": {"@u:a": 100}, "users_default": 0, "notifications": {"room": 50},
      "historical": 100}
PL_KEPT = {k: PL[k] for k in ("ban", "events", "events_default", "kick", "redact", "state_default", "users",
                              "users_default")}


@pytest.mark.parametrize("rv", PRE_V11, ids=lambda rv: f"v{rv.identifier}")
def test_power_levels_before_v11(rv):
    assert prune_event_dict(rv, ev("m.room.power_levels", PL, state_key=""))["content"] == PL_KEPT


@pytest.mark.parametrize("rv", V11_PLUS, ids=lambda rv: f"v{rv.identifier}")
def test_power_levels_v11_keeps_invite(rv):
    assert prune_event_dict(rv, ev("m.room.power_levels", PL, state_key=""))["content"] == {**PL_KEPT, "invite": 0}


@pytest.mark.parametrize("rv, keeps", [(V1, True), (V2, True), (V3, True), (V5, True), (V6, False), (V7, False),
                                       (V9, False), (V11, False), (V12, False)],
                         ids=lambda x: getattr(x, "identifier", ""))
def test_aliases_special_case_only_v1_to_v5(rv, keeps):
    content = {"aliases": ["#a:a"], "other": 1}
    pruned = prune_event_dict(rv, ev("m.room.aliases", content, state_key="a"))["content"]
    assert pruned == ({"aliases": ["#a:a"]} if keeps else {})


@pytest.mark.parametrize("rv", ALL, ids=lambda rv: f"v{rv.identifier}")
def test_history_visibility(rv):
    pruned = prune_event_dict(rv, ev("m.room.history_visibility", {"history_visibility": "shared", "x": 1},
                                     state_key=""))
    assert pruned["content"] == {"history_visibility": "shared"}


@pytest.mark.parametrize("rv, keeps", [(V1, False), (V10, False), (V11, True), (V12, True)],
                         ids=lambda x: getattr(x, "identifier", ""))
def test_redaction_content_redacts_from_v11(rv, keeps):
    pdu = ev("m.room.redaction", {"redacts": "$t", "reason": "spam"}, redacts="$t")
    pruned = prune_event_dict(rv, pdu)
    assert pruned["content"] == ({"redacts": "$t"} if keeps else {})
    assert "redacts" not in pruned  # the top-level key is never protected


@pytest.mark.parametrize("type_", ["m.room.name", "m.room.topic", "m.room.encryption", "m.room.guest_access",
                                   "m.room.canonical_alias", "m.room.third_party_invite", "m.room.tombstone"])
def test_other_state_events_lose_all_content(type_):
    for rv in ALL:
        assert prune_event_dict(rv, ev(type_, {"name": "n", "alias": "#a:a", "x": 1}, state_key=""))["content"] == {}


def test_pruning_is_idempotent():
    for rv in ALL:
        for type_, content in [("m.room.member", MEMBER), ("m.room.create", CREATE), ("m.room.power_levels", PL),
                               ("m.room.join_rules", JOIN_RULES)]:
            once = prune_event_dict(rv, ev(type_, content, state_key=""))
            assert prune_event_dict(rv, once) == once


# prune_event (the Event form) ---------------------------------------------------------------------
def test_prune_event_keeps_unsigned_internal_and_event_id():
    pdu = dict(ev("m.room.message", {"body": "secret"}), depth=2, prev_events=[], auth_events=[],
               hashes={"sha256": "h"}, signatures={})
    internal = InternalMetadata(txn_id="t1", device_id="D")
    event = Event(pdu, V10, unsigned={"age_ts": 3, "prev_content": {"a": 1}}, internal=internal)
    pruned = prune_event(event)
    assert pruned.content == {}
    assert pruned.unsigned == {"age_ts": 3, "prev_content": {"a": 1}}
    assert pruned.unsigned is not event.unsigned
    assert pruned.internal is internal
    assert pruned.event_id == event.event_id
    assert event.content == {"body": "secret"}  # the original is untouched


def test_prune_event_v1_keeps_carried_event_id():
    event = Event(dict(ev("m.room.message", {"body": "x"}), event_id="$abc:a"), V1)
    assert prune_event(event).event_id == "$abc:a"
