"""POST /createRoom: versions, presets, the spec's event order, initial_state, overrides and errors."""
from __future__ import annotations

import pytest

from tests.conftest import assert_error

from tests.api.rooms.helpers import API, create_room


def state_of(client, room_id):
    resp = client.get(f"{API}/rooms/{room_id}/state")
    assert resp.status_code == 200, resp.json_body
    return {(e["type"], e["state_key"]): e for e in resp.json_body}


@pytest.mark.parametrize("version", ["10", "11", "12"])
def test_create_room_of_each_version(alice, version):
    room_id = create_room(alice, room_version=version, name="The room", topic="About things")
    state = state_of(alice, room_id)
    create = state[("m.room.create", "")]["content"]
    assert create["room_version"] == version
    if version == "10":
        assert create["creator"] == alice.user_id
    else:
        assert "creator" not in create
    if version == "12":
        # v12: the room ID is the create event's ID with '!' for '$', and has no server name.
        assert room_id == "!" + state[("m.room.create", "")]["event_id"][1:]
        assert ":" not in room_id
        pl = state[("m.room.power_levels", "")]["content"]
        assert alice.user_id not in pl["users"]
        assert pl["events"]["m.room.tombstone"] == 150
    else:
        assert room_id.endswith(":test.local")
        assert state[("m.room.power_levels", "")]["content"]["users"] == {alice.user_id: 100}
    assert state[("m.room.member", alice.user_id)]["content"]["membership"] == "join"
    assert state[("m.room.name", "")]["content"] == {"name": "The room"}
    assert state[("m.room.topic", "")]["content"]["topic"] == "About things"


def test_default_version_is_the_configured_one(alice, settings):
    room_id = create_room(alice)
    create = state_of(alice, room_id)[("m.room.create", "")]
    assert create["content"]["room_version"] == settings.HS.default_room_version


def test_event_order_follows_the_spec(alice, bob):
    room_id = create_room(alice, room_version="11", name="n", topic="t", invite=[bob.user_id],
                          initial_state=[{"type": "m.room.avatar", "content": {"url": "mxc://x/y"}}])
    events = sorted(state_of(alice, room_id).values(), key=lambda e: e["origin_server_ts"])
    # Timestamps can tie: order by the stream instead, through the events' depth.
    from apps.rooms import stores

    ordered = sorted(events, key=lambda e: stores.get_event(e["event_id"]).depth)
    assert [(e["type"], e.get("state_key")) for e in ordered] == [
        ("m.room.create", ""), ("m.room.member", alice.user_id), ("m.room.power_levels", ""),
        ("m.room.join_rules", ""), ("m.room.history_visibility", ""), ("m.room.guest_access", ""),
        ("m.room.avatar", ""), ("m.room.name", ""), ("m.room.topic", ""), ("m.room.member", bob.user_id),
    ]


@pytest.mark.parametrize("preset,join_rule,guest", [("private_chat", "invite", "can_join"),
                                                    ("trusted_private_chat", "invite", "can_join"),
                                                    ("public_chat", "public", "forbidden")])
def test_presets(alice, preset, join_rule, guest):
    state = state_of(alice, create_room(alice, preset=preset, room_version="11"))
    assert state[("m.room.join_rules", "")]["content"] == {"join_rule": join_rule}
    assert state[("m.room.history_visibility", "")]["content"] == {"history_visibility": "shared"}
    assert state[("m.room.guest_access", "")]["content"] == {"guest_access": guest}


def test_visibility_picks_the_preset(alice):
    state = state_of(alice, create_room(alice, visibility="public"))
    assert state[("m.room.join_rules", "")]["content"]["join_rule"] == "public"
    from apps.rooms.models import Room

    assert Room.objects.filter(is_public=True).count() == 1


def test_trusted_private_chat_makes_invitees_admins(alice, bob):
    state = state_of(alice, create_room(alice, preset="trusted_private_chat", invite=[bob.user_id],
                                        room_version="11", is_direct=True))
    assert state[("m.room.power_levels", "")]["content"]["users"][bob.user_id] == 100
    invite = state[("m.room.member", bob.user_id)]["content"]
    assert invite["membership"] == "invite" and invite["is_direct"] is True
    state12 = state_of(alice, create_room(alice, preset="trusted_private_chat", invite=[bob.user_id],
                                          room_version="12"))
    assert state12[("m.room.create", "")]["content"]["additional_creators"] == [bob.user_id]


def test_initial_state_overrides_preset_and_name_overrides_initial_state(alice):
    state = state_of(alice, create_room(alice, preset="private_chat", name="from name", initial_state=[
        {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "public"}},
        {"type": "m.room.name", "content": {"name": "from initial_state"}},
        {"type": "org.example.custom", "state_key": "k", "content": {"a": 1}},
    ]))
    assert state[("m.room.join_rules", "")]["content"] == {"join_rule": "public"}
    assert state[("m.room.name", "")]["content"] == {"name": "from name"}
    assert state[("org.example.custom", "k")]["content"] == {"a": 1}


def test_power_level_override(alice):
    state = state_of(alice, create_room(alice, room_version="11",
                                        power_level_content_override={"events_default": 20, "invite": 75}))
    pl = state[("m.room.power_levels", "")]["content"]
    assert pl["events_default"] == 20 and pl["invite"] == 75 and pl["users"] == {alice.user_id: 100}


def test_override_locking_the_creator_out_is_invalid_room_state(alice):
    resp = alice.post(f"{API}/createRoom", {"room_version": "11", "name": "x",
                                            "power_level_content_override": {"users": {}, "state_default": 100}})
    assert_error(resp, 400, "M_INVALID_ROOM_STATE")
    from apps.rooms.models import Room

    assert not Room.objects.exists()  # nothing of the half-made room is kept


def test_unknown_room_version(alice):
    assert_error(alice.post(f"{API}/createRoom", {"room_version": "999"}), 400, "M_UNSUPPORTED_ROOM_VERSION")


@pytest.mark.parametrize("body", [{"preset": "nope"}, {"visibility": "secret"}, {"invite": ["not-a-user"]},
                                  {"initial_state": [{"type": "x"}]}, {"name": 5},
                                  {"initial_state": [{"type": "m.room.create", "content": {}}]}])
def test_bad_bodies(alice, body):
    resp = alice.post(f"{API}/createRoom", body)
    assert resp.status_code == 400, resp.json_body
    assert resp.json_body["errcode"] in ("M_BAD_JSON", "M_INVALID_PARAM")


def test_not_json_and_no_token(alice, mx):
    assert_error(alice.request("POST", f"{API}/createRoom", raw=b"{nope"), 400, "M_NOT_JSON")
    assert_error(mx.post(f"{API}/createRoom", {}), 401, "M_MISSING_TOKEN")


def test_invite_of_unknown_local_user(alice):
    assert_error(alice.post(f"{API}/createRoom", {"invite": ["@nobody:test.local"]}), 404, "M_NOT_FOUND")
