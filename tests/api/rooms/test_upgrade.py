"""POST /rooms/{roomId}/upgrade (upgradeRoom)."""
from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.api.rooms.helpers import API, create_room, send
from tests.conftest import assert_error

SERVER = "test.local"


def _upgrade(client, room_id, version="12", **extra):
    return client.post(f"{API}/rooms/{room_id}/upgrade", {"new_version": version, **extra})


def _state(client, room_id, etype, key=""):
    resp = client.get(f"{API}/rooms/{room_id}/state/{etype}/{key}")
    return resp.json_body if resp.status_code == 200 else None


def _full_room(alice, bob, version):
    room = create_room(alice, room_version=version, preset="public_chat", name="Old name", topic="Old topic",
                       room_alias_name="hall", visibility="public")
    alice.put(f"{API}/directory/room/{quote(f'#alt:{SERVER}', safe='')}", {"room_id": room})
    resp = alice.put(f"{API}/rooms/{room}/state/m.room.canonical_alias",
                     {"alias": f"#hall:{SERVER}", "alt_aliases": [f"#alt:{SERVER}"]})
    assert resp.status_code == 200, resp.json_body
    alice.put(f"{API}/rooms/{room}/state/m.room.encryption", {"algorithm": "m.megolm.v1.aes-sha2"})
    alice.put(f"{API}/rooms/{room}/state/m.room.avatar", {"url": "mxc://test.local/a"})
    alice.post(f"{API}/rooms/{room}/ban", {"user_id": "@troll:test.local", "reason": "spam"})
    bob.post(f"{API}/join/{room}")
    return room


@pytest.mark.parametrize("old,new", [("10", "11"), ("11", "12"), ("12", "12"), ("9", "10")])
def test_upgrade_copies_state_and_moves_aliases(alice, bob, old, new):
    room = _full_room(alice, bob, old)
    resp = _upgrade(alice, room, new)
    assert resp.status_code == 200, resp.json_body
    new_room = resp.json_body["replacement_room"]
    assert new_room != room

    create = _state(alice, new_room, "m.room.create")
    assert create["room_version"] == new
    assert create["predecessor"]["room_id"] == room
    if new != "12":
        tombstone_id = alice.get(f"{API}/rooms/{room}/state/m.room.tombstone?format=event").json_body["event_id"]
        assert create["predecessor"]["event_id"] == tombstone_id
    assert _state(alice, room, "m.room.tombstone")["replacement_room"] == new_room

    assert _state(alice, new_room, "m.room.name") == {"name": "Old name"}
    assert _state(alice, new_room, "m.room.topic")["topic"] == "Old topic"
    assert _state(alice, new_room, "m.room.encryption") == {"algorithm": "m.megolm.v1.aes-sha2"}
    assert _state(alice, new_room, "m.room.avatar") == {"url": "mxc://test.local/a"}
    assert _state(alice, new_room, "m.room.join_rules") == {"join_rule": "public"}
    assert _state(alice, new_room, "m.room.member", "@troll:test.local")["membership"] == "ban"

    pl = _state(alice, new_room, "m.room.power_levels")
    if new == "12":
        assert alice.user_id not in pl["users"]  # creators have infinite power in v12
    else:
        assert pl["users"][alice.user_id] == 100

    # aliases and the canonical alias follow; the directory publication moves
    resolved = alice.get(f"{API}/directory/room/{quote(f'#hall:{SERVER}', safe='')}").json_body
    assert resolved["room_id"] == new_room
    assert sorted(alice.get(f"{API}/rooms/{new_room}/aliases").json_body["aliases"]) == [f"#alt:{SERVER}",
                                                                                          f"#hall:{SERVER}"]
    assert _state(alice, new_room, "m.room.canonical_alias") == {"alias": f"#hall:{SERVER}",
                                                                 "alt_aliases": [f"#alt:{SERVER}"]}
    assert _state(alice, room, "m.room.canonical_alias") == {"alt_aliases": []}
    assert alice.get(f"{API}/directory/list/room/{room}").json_body == {"visibility": "private"}
    assert alice.get(f"{API}/directory/list/room/{new_room}").json_body == {"visibility": "public"}

    # the old room is restricted: plain users can no longer talk or invite
    old_pl = _state(alice, room, "m.room.power_levels")
    assert old_pl["events_default"] == 50 and old_pl["invite"] == 50
    assert_error(send(bob, room), 403, "M_FORBIDDEN")
    # bob may join the new room
    assert bob.post(f"{API}/join/{new_room}").status_code == 200


def test_upgrade_from_v12_to_v11_gives_the_upgrader_power(alice):
    room = create_room(alice, room_version="12")
    new_room = _upgrade(alice, room, "11").json_body["replacement_room"]
    assert _state(alice, new_room, "m.room.power_levels")["users"][alice.user_id] == 100
    assert alice.put(f"{API}/rooms/{new_room}/state/m.room.name", {"name": "ok"}).status_code == 200


def test_upgrade_additional_creators(alice, bob):
    room = create_room(alice, room_version="12")
    new_room = _upgrade(alice, room, "12", additional_creators=[bob.user_id]).json_body["replacement_room"]
    assert _state(alice, new_room, "m.room.create")["additional_creators"] == [bob.user_id]
    assert_error(_upgrade(alice, new_room, "12", additional_creators="x"), 400, "M_BAD_JSON")
    assert_error(_upgrade(alice, new_room, "12", additional_creators=["nope"]), 400, "M_INVALID_PARAM")


def test_upgrade_restricted_join_rule_falls_back_when_unsupported(alice):
    room = create_room(alice, room_version="7", initial_state=[
        {"type": "m.room.join_rules", "content": {"join_rule": "knock"}}])
    new_room = _upgrade(alice, room, "6").json_body["replacement_room"]
    assert _state(alice, new_room, "m.room.join_rules") == {"join_rule": "invite"}


def test_upgrade_permissions(alice, bob, mx):
    room = create_room(alice, preset="public_chat")
    assert_error(_upgrade(bob, room), 403, "M_FORBIDDEN")  # not in the room
    bob.post(f"{API}/join/{room}")
    assert_error(_upgrade(bob, room), 403, "M_FORBIDDEN")  # no power to send the tombstone
    assert _state(alice, room, "m.room.tombstone") is None
    assert_error(mx.post(f"{API}/rooms/{room}/upgrade", {"new_version": "12"}, token=None), 401, "M_MISSING_TOKEN")


def test_upgrade_bad_input(alice):
    room = create_room(alice)
    assert_error(_upgrade(alice, room, "999"), 400, "M_UNSUPPORTED_ROOM_VERSION")
    assert_error(alice.post(f"{API}/rooms/{room}/upgrade", {}), 400, "M_MISSING_PARAM")
    assert_error(alice.post(f"{API}/rooms/{room}/upgrade", {"new_version": 12}), 400, "M_BAD_JSON")
    assert_error(alice.request("POST", f"{API}/rooms/{room}/upgrade", raw=b"nope"), 400, "M_NOT_JSON")
    assert_error(_upgrade(alice, f"!unknown:{SERVER}"), 404, "M_NOT_FOUND")
    assert_error(_upgrade(alice, "not-a-room"), 400, "M_INVALID_PARAM")


def test_upgrade_twice_is_refused(alice):
    room = create_room(alice)
    assert _upgrade(alice, room).status_code == 200
    assert_error(_upgrade(alice, room), 400, "M_BAD_STATE")


def test_upgrade_raises_then_restores_a_low_upgrader(alice, bob):
    """A user allowed to send the tombstone but below the state levels still gets the state copied."""
    room = create_room(alice, room_version="11", preset="public_chat")
    bob.post(f"{API}/join/{room}")
    pl = _state(alice, room, "m.room.power_levels")
    pl["users"][bob.user_id] = 60
    pl["events"]["m.room.tombstone"] = 60
    assert alice.put(f"{API}/rooms/{room}/state/m.room.power_levels", pl).status_code == 200
    alice.put(f"{API}/rooms/{room}/state/m.room.name", {"name": "n"})
    resp = _upgrade(bob, room, "11")
    assert resp.status_code == 200, resp.json_body
    new_room = resp.json_body["replacement_room"]
    assert _state(bob, new_room, "m.room.name") == {"name": "n"}
    assert _state(bob, new_room, "m.room.power_levels")["users"][bob.user_id] == 60
