"""GET /make_join and PUT /v2/send_join (and the deprecated v1 send_join): a remote user joins a local
room through the handshake; refusals of the handshake."""
from __future__ import annotations

import pytest

from apps.rooms import stores as room_stores
from tests.api.federation.remote import FED, FakeRemote, q
from tests.api.rooms.helpers import API, create_room
from tests.conftest import assert_error


@pytest.fixture
def remote(db):
    return FakeRemote("remote.test")


def members(client, room_id):
    resp = client.get(f"{API}/rooms/{room_id}/joined_members")
    assert resp.status_code == 200, resp.json_body
    return set(resp.json_body["joined"])


def test_remote_user_joins_public_room(alice, remote):
    room_id = create_room(alice, preset="public_chat")
    bob = remote.user("bob")
    made = remote.make_membership("make_join", room_id, bob)
    assert made.status_code == 200, made.json_body
    template = made.json_body["event"]
    assert made.json_body["room_version"] == "12"
    assert template["type"] == "m.room.member" and template["state_key"] == bob and template["sender"] == bob
    assert template["content"]["membership"] == "join" and template["room_id"] == room_id
    assert "signatures" not in template and "hashes" not in template
    assert template["prev_events"] == [eid for eid, _ in room_stores.forward_extremities(room_id)]

    event = remote.sign_template(template, "12")
    resp = remote.put(f"{FED}/v2/send_join/{q(room_id)}/{q(event.event_id)}", event.get_pdu_json())
    assert resp.status_code == 200, resp.json_body
    body = resp.json_body
    assert body["members_omitted"] is False
    assert "remote.test" in body["servers_in_room"] and "test.local" in body["servers_in_room"]
    state_types = {(e["type"], e.get("state_key")) for e in body["state"]}
    assert ("m.room.create", "") in state_types and ("m.room.member", alice.user_id) in state_types
    assert ("m.room.member", bob) not in state_types  # the state *before* the join
    chain_ids = {e.get("event_id") or None for e in body["auth_chain"]}
    assert body["auth_chain"] and all(e["room_id"] == room_id for e in body["auth_chain"] if "room_id" in e)
    assert chain_ids  # full PDUs, room version 12 (no event_id field in the PDU)
    assert bob in members(alice, room_id)
    # The join is in the room's timeline for the local member.
    msgs = alice.get(f"{API}/rooms/{room_id}/messages?dir=b&limit=5").json_body["chunk"]
    assert any(e["type"] == "m.room.member" and e["state_key"] == bob for e in msgs)


def test_send_join_twice_is_idempotent(alice, remote):
    room_id = create_room(alice, preset="public_chat")
    event, _ = remote.join(room_id, remote.user("bob"))
    again = remote.put(f"{FED}/v2/send_join/{q(room_id)}/{q(event.event_id)}", event.get_pdu_json())
    assert again.status_code == 200, again.json_body


def test_send_join_v1_shape(alice, remote):
    room_id = create_room(alice, preset="public_chat")
    made = remote.make_membership("make_join", room_id, remote.user("carol"))
    event = remote.sign_template(made.json_body["event"], "12")
    resp = remote.put(f"{FED}/v1/send_join/{q(room_id)}/{q(event.event_id)}", event.get_pdu_json())
    assert resp.status_code == 200
    assert resp.json_body[0] == 200 and {"state", "auth_chain"} <= set(resp.json_body[1])


def test_make_join_incompatible_version(alice, remote):
    room_id = create_room(alice, preset="public_chat")
    resp = remote.make_membership("make_join", room_id, remote.user("bob"), versions=("10", "11"))
    body = assert_error(resp, 400, "M_INCOMPATIBLE_ROOM_VERSION")
    assert body["room_version"] == "12"
    # No `ver` at all means version 1 only.
    resp = remote.get(f"{FED}/v1/make_join/{q(room_id)}/{q(remote.user('bob'))}")
    assert_error(resp, 400, "M_INCOMPATIBLE_ROOM_VERSION")


def test_make_join_invite_only_room_is_forbidden(alice, remote):
    room_id = create_room(alice, preset="private_chat")
    assert_error(remote.make_membership("make_join", room_id, remote.user("bob")), 403, "M_FORBIDDEN")


def test_make_join_for_a_user_of_another_server_is_forbidden(alice, remote):
    room_id = create_room(alice, preset="public_chat")
    assert_error(remote.make_membership("make_join", room_id, "@eve:elsewhere.test"), 403, "M_FORBIDDEN")


def test_make_join_unknown_room(remote, db):
    assert_error(remote.make_membership("make_join", "!nope:test.local", remote.user("bob")), 404, "M_NOT_FOUND")


def test_requests_need_a_valid_signature(alice, remote):
    room_id = create_room(alice, preset="public_chat")
    path = f"{FED}/v1/make_join/{q(room_id)}/{q(remote.user('bob'))}"
    assert_error(remote.get(path, query={"ver": "12"}, sign=False), 401, "M_UNAUTHORIZED")
    stranger = FakeRemote("stranger.test", register_key=False)  # a key our keyring cannot find
    assert_error(stranger.get(path, query={"ver": "12"}), 401, "M_UNAUTHORIZED")


def test_send_join_with_a_forged_signature_is_refused(alice, remote):
    room_id = create_room(alice, preset="public_chat")
    made = remote.make_membership("make_join", room_id, remote.user("bob"))
    event = remote.sign_template(made.json_body["event"], "12")
    pdu = event.get_pdu_json()
    key_id = next(iter(pdu["signatures"]["remote.test"]))
    pdu["signatures"]["remote.test"][key_id] = "A" * 86
    resp = remote.put(f"{FED}/v2/send_join/{q(room_id)}/{q(event.event_id)}", pdu)
    assert_error(resp, 403, "M_FORBIDDEN")
    assert remote.user("bob") not in members(alice, room_id)


def test_send_join_of_a_user_of_another_server_is_refused(alice, remote):
    room_id = create_room(alice, preset="public_chat")
    other = FakeRemote("other.test")
    made = other.make_membership("make_join", room_id, other.user("bob"))
    event = other.sign_template(made.json_body["event"], "12")
    # remote.test sends other.test's join as its own.
    resp = remote.put(f"{FED}/v2/send_join/{q(room_id)}/{q(event.event_id)}", event.get_pdu_json())
    assert_error(resp, 403, "M_FORBIDDEN")


def test_send_join_event_id_must_match_path(alice, remote):
    room_id = create_room(alice, preset="public_chat")
    made = remote.make_membership("make_join", room_id, remote.user("bob"))
    event = remote.sign_template(made.json_body["event"], "12")
    resp = remote.put(f"{FED}/v2/send_join/{q(room_id)}/$wrong", event.get_pdu_json())
    assert_error(resp, 400, "M_BAD_JSON")


def test_send_join_not_a_join(alice, remote):
    room_id = create_room(alice, preset="public_chat")
    made = remote.make_membership("make_join", room_id, remote.user("bob"))
    template = made.json_body["event"]
    template["content"] = {"membership": "leave"}
    event = remote.sign_template(template, "12")
    resp = remote.put(f"{FED}/v2/send_join/{q(room_id)}/{q(event.event_id)}", event.get_pdu_json())
    assert_error(resp, 400, "M_BAD_JSON")


def test_restricted_join_is_authorised_by_a_local_member(alice, remote):
    space = create_room(alice, preset="public_chat")
    bob = remote.user("bob")
    remote.join(space, bob)
    room_id = create_room(alice, preset="private_chat", initial_state=[{
        "type": "m.room.join_rules", "state_key": "",
        "content": {"join_rule": "restricted", "allow": [{"type": "m.room_membership", "room_id": space}]}}])
    made = remote.make_membership("make_join", room_id, bob)
    assert made.status_code == 200, made.json_body
    assert made.json_body["event"]["content"]["join_authorised_via_users_server"] == alice.user_id
    event = remote.sign_template(made.json_body["event"], "12")
    resp = remote.put(f"{FED}/v2/send_join/{q(room_id)}/{q(event.event_id)}", event.get_pdu_json())
    assert resp.status_code == 200, resp.json_body
    # We co-signed the join and hand it back.
    assert "test.local" in resp.json_body["event"]["signatures"]
    assert bob in members(alice, room_id)


def test_restricted_join_of_a_user_meeting_no_condition_is_forbidden(alice, remote):
    space = create_room(alice, preset="public_chat")
    room_id = create_room(alice, preset="private_chat", initial_state=[{
        "type": "m.room.join_rules", "state_key": "",
        "content": {"join_rule": "restricted", "allow": [{"type": "m.room_membership", "room_id": space}]}}])
    assert_error(remote.make_membership("make_join", room_id, remote.user("bob")), 403, "M_FORBIDDEN")


def test_restricted_join_on_an_unknown_room_cannot_be_authorised(alice, remote):
    room_id = create_room(alice, preset="private_chat", initial_state=[{
        "type": "m.room.join_rules", "state_key": "",
        "content": {"join_rule": "restricted",
                    "allow": [{"type": "m.room_membership", "room_id": "!unknown:elsewhere.test"}]}}])
    assert_error(remote.make_membership("make_join", room_id, remote.user("bob")), 400,
                 "M_UNABLE_TO_AUTHORISE_JOIN")


@pytest.mark.parametrize("version", ["2", "6", "10"])
def test_join_in_older_room_versions(alice, remote, version):
    room_id = create_room(alice, preset="public_chat", room_version=version)
    made = remote.make_membership("make_join", room_id, remote.user("bob"), versions=("1", "2", "6", "10"))
    assert made.status_code == 200, made.json_body
    assert made.json_body["room_version"] == version
    template = made.json_body["event"]
    assert "event_id" not in template  # v1/v2: the joining server names its event
    if version == "2":
        template["event_id"] = "$join1:remote.test"
        assert all(isinstance(p, list) for p in template["prev_events"])  # [event_id, hashes] pairs
    event = remote.sign_template(template, version)
    resp = remote.put(f"{FED}/v2/send_join/{q(room_id)}/{q(event.event_id)}", event.get_pdu_json())
    assert resp.status_code == 200, resp.json_body
    assert remote.user("bob") in members(alice, room_id)


def test_restricted_join_without_a_local_member_able_to_invite(alice, remote):
    space = create_room(alice, preset="public_chat", room_version="10")
    bob = remote.user("bob")
    remote.join(space, bob, room_version="10")
    room_id = create_room(alice, preset="private_chat", room_version="10",
                          power_level_content_override={"invite": 150}, initial_state=[{
                              "type": "m.room.join_rules", "state_key": "",
                              "content": {"join_rule": "restricted",
                                          "allow": [{"type": "m.room_membership", "room_id": space}]}}])
    resp = remote.make_membership("make_join", room_id, bob, versions=("10",))
    assert_error(resp, 400, "M_UNABLE_TO_GRANT_JOIN")
