"""POST /rooms/{roomId}/kick, /ban and /unban: power levels come from the auth rules (403 M_FORBIDDEN
with what was missing), and a kicked or banned user really loses the room from then on."""
from __future__ import annotations

import pytest

from tests.api.rooms.helpers import API, create_room, send
from tests.conftest import MatrixClient, assert_error


@pytest.fixture
def carol(db) -> MatrixClient:
    c = MatrixClient()
    c.register("carol")
    return c


def membership(client, room_id, user_id):
    resp = client.get(f"{API}/rooms/{room_id}/state/m.room.member/{user_id}")
    assert resp.status_code == 200, resp.json_body
    return resp.json_body


def set_power(client, room_id, **changes):
    pl = client.get(f"{API}/rooms/{room_id}/state/m.room.power_levels").json_body
    users = {**pl.get("users", {}), **changes.pop("users", {})}
    pl.update(changes, users=users)
    resp = client.put(f"{API}/rooms/{room_id}/state/m.room.power_levels", pl)
    assert resp.status_code == 200, resp.json_body


def public_room(alice, *others, version="11"):
    room_id = create_room(alice, preset="public_chat", room_version=version)
    for c in others:
        assert c.post(f"{API}/rooms/{room_id}/join").status_code == 200
    return room_id


@pytest.mark.parametrize("version", ["10", "11", "12"])
def test_kick_then_the_kicked_user_loses_access(alice, bob, version):
    room_id = public_room(alice, bob, version=version)
    alice.put(f"{API}/rooms/{room_id}/state/m.room.topic", {"topic": "before"})
    assert alice.post(f"{API}/rooms/{room_id}/kick", {"user_id": bob.user_id, "reason": "spam"}).json_body == {}
    assert membership(alice, room_id, bob.user_id) == {"membership": "leave", "reason": "spam"}
    assert room_id not in bob.get(f"{API}/joined_rooms").json_body["joined_rooms"]

    later = send(alice, room_id).json_body["event_id"]
    alice.put(f"{API}/rooms/{room_id}/state/m.room.topic", {"topic": "after"})
    # Events after the kick are not the kicked user's to read; the state is as of the kick.
    assert_error(bob.get(f"{API}/rooms/{room_id}/event/{later}"), 404, "M_NOT_FOUND")
    assert bob.get(f"{API}/rooms/{room_id}/state/m.room.topic").json_body["topic"] == "before"
    state = {(e["type"], e["state_key"]): e for e in bob.get(f"{API}/rooms/{room_id}/state").json_body}
    assert state[("m.room.member", bob.user_id)]["content"]["membership"] == "leave"
    # A kicked user may come back to a public room.
    assert bob.post(f"{API}/rooms/{room_id}/join").status_code == 200


def test_kick_needs_the_kick_level_and_a_higher_level(alice, bob, carol):
    room_id = public_room(alice, bob, carol)
    # Nobody but alice has power: bob cannot kick carol, nor alice.
    err = assert_error(bob.post(f"{API}/rooms/{room_id}/kick", {"user_id": carol.user_id}), 403, "M_FORBIDDEN")
    assert err["error"] == f"You cannot kick {carol.user_id}: that needs power level 50 ('kick') and yours is 0"
    assert_error(bob.post(f"{API}/rooms/{room_id}/kick", {"user_id": alice.user_id}), 403, "M_FORBIDDEN")
    # Equal levels: the kick level is not enough without a higher level than the target's.
    set_power(alice, room_id, users={bob.user_id: 50, carol.user_id: 50})
    err = assert_error(bob.post(f"{API}/rooms/{room_id}/kick", {"user_id": carol.user_id}), 403, "M_FORBIDDEN")
    assert "their power level (50) is not below yours (50)" in err["error"]
    # A higher level but below the kick level.
    set_power(alice, room_id, kick=75, users={carol.user_id: 0})
    err = assert_error(bob.post(f"{API}/rooms/{room_id}/kick", {"user_id": carol.user_id}), 403, "M_FORBIDDEN")
    assert "needs power level 75 ('kick')" in err["error"]
    set_power(alice, room_id, kick=50)
    assert bob.post(f"{API}/rooms/{room_id}/kick", {"user_id": carol.user_id}).status_code == 200
    assert membership(alice, room_id, carol.user_id)["membership"] == "leave"


def test_kick_revokes_an_invite(alice, bob):
    room_id = create_room(alice, invite=[bob.user_id])
    assert alice.post(f"{API}/rooms/{room_id}/kick", {"user_id": bob.user_id}).status_code == 200
    assert membership(alice, room_id, bob.user_id)["membership"] == "leave"
    assert_error(bob.post(f"{API}/rooms/{room_id}/join"), 403, "M_FORBIDDEN")


def test_kick_errors(alice, bob, carol):
    room_id = public_room(alice, bob)
    kick = f"{API}/rooms/{room_id}/kick"
    err = assert_error(alice.post(kick, {"user_id": carol.user_id}), 403, "M_FORBIDDEN")
    assert "not in the room" in err["error"]
    assert_error(alice.post(kick, {}), 400, "M_MISSING_PARAM")
    assert_error(alice.post(kick, {"user_id": 5}), 400, "M_BAD_JSON")
    assert_error(alice.post(kick, {"user_id": bob.user_id, "reason": 5}), 400, "M_BAD_JSON")
    assert_error(alice.post(kick, {"user_id": "not-a-user"}), 400, "M_INVALID_PARAM")
    assert_error(alice.post(kick, raw=b"{nope"), 400, "M_NOT_JSON")
    assert_error(alice.post(f"{API}/rooms/!nowhere:test.local/kick", {"user_id": bob.user_id}), 404, "M_NOT_FOUND")
    assert_error(alice.post(f"{API}/rooms/nowhere/kick", {"user_id": bob.user_id}), 400, "M_INVALID_PARAM")
    assert_error(alice.post(kick, {"user_id": bob.user_id}, token=None), 401, "M_MISSING_TOKEN")
    # A stranger cannot kick.
    assert_error(carol.post(kick, {"user_id": bob.user_id}), 403, "M_FORBIDDEN")


@pytest.mark.parametrize("version", ["11", "12"])
def test_ban_then_unban(alice, bob, carol, version):
    room_id = public_room(alice, bob, version=version)
    assert alice.post(f"{API}/rooms/{room_id}/ban", {"user_id": bob.user_id, "reason": "rude"}).json_body == {}
    assert membership(alice, room_id, bob.user_id) == {"membership": "ban", "reason": "rude"}
    later = send(alice, room_id).json_body["event_id"]
    assert_error(bob.get(f"{API}/rooms/{room_id}/event/{later}"), 404, "M_NOT_FOUND")
    # Banned: cannot join, cannot be invited, cannot be kicked (unban instead); banning again is a no-op.
    err = assert_error(bob.post(f"{API}/rooms/{room_id}/join"), 403, "M_FORBIDDEN")
    assert "banned" in err["error"]
    assert_error(alice.post(f"{API}/rooms/{room_id}/invite", {"user_id": bob.user_id}), 403, "M_FORBIDDEN")
    assert "unban" in assert_error(alice.post(f"{API}/rooms/{room_id}/kick", {"user_id": bob.user_id}),
                                   403, "M_FORBIDDEN")["error"]
    before = alice.get(f"{API}/rooms/{room_id}/state/m.room.member/{bob.user_id}?format=event").json_body
    assert alice.post(f"{API}/rooms/{room_id}/ban", {"user_id": bob.user_id, "reason": "rude"}).status_code == 200
    after = alice.get(f"{API}/rooms/{room_id}/state/m.room.member/{bob.user_id}?format=event").json_body
    assert before["event_id"] == after["event_id"]

    assert alice.post(f"{API}/rooms/{room_id}/unban", {"user_id": bob.user_id}).json_body == {}
    assert membership(alice, room_id, bob.user_id) == {"membership": "leave"}
    assert bob.post(f"{API}/rooms/{room_id}/join").status_code == 200


def test_pre_emptive_ban_of_a_non_member(alice, carol):
    room_id = public_room(alice)
    assert alice.post(f"{API}/rooms/{room_id}/ban", {"user_id": carol.user_id}).status_code == 200
    assert_error(carol.post(f"{API}/rooms/{room_id}/join"), 403, "M_FORBIDDEN")
    # Users of other servers may be banned too (nothing to ask their server).
    assert alice.post(f"{API}/rooms/{room_id}/ban", {"user_id": "@mallory:elsewhere.example"}).status_code == 200


def test_ban_and_unban_need_the_ban_level(alice, bob, carol):
    room_id = public_room(alice, bob, carol)
    err = assert_error(bob.post(f"{API}/rooms/{room_id}/ban", {"user_id": carol.user_id}), 403, "M_FORBIDDEN")
    assert "ban" in err["error"]
    assert_error(bob.post(f"{API}/rooms/{room_id}/ban", {"user_id": alice.user_id}), 403, "M_FORBIDDEN")
    alice.post(f"{API}/rooms/{room_id}/ban", {"user_id": carol.user_id})
    # bob may kick (kick level 50) but not unban with a ban level above his.
    set_power(alice, room_id, ban=75, users={bob.user_id: 50})
    err = assert_error(bob.post(f"{API}/rooms/{room_id}/unban", {"user_id": carol.user_id}), 403, "M_FORBIDDEN")
    assert "needs power level 75 ('ban')" in err["error"]
    assert membership(alice, room_id, carol.user_id)["membership"] == "ban"
    # Unbanning is a leave of another user: the kick level is needed too.
    set_power(alice, room_id, ban=50, kick=60)
    err = assert_error(bob.post(f"{API}/rooms/{room_id}/unban", {"user_id": carol.user_id}), 403, "M_FORBIDDEN")
    assert "needs power level 60 ('kick')" in err["error"]
    # A stranger is told they are not in the room.
    dave = MatrixClient()
    dave.register("dave")
    err = assert_error(dave.post(f"{API}/rooms/{room_id}/ban", {"user_id": bob.user_id}), 403, "M_FORBIDDEN")
    assert "not in the room" in err["error"]


def test_v12_creator_outranks_everyone(alice, bob):
    room_id = public_room(alice, bob, version="12")
    set_power(alice, room_id, users={bob.user_id: 100})
    err = assert_error(bob.post(f"{API}/rooms/{room_id}/kick", {"user_id": alice.user_id}), 403, "M_FORBIDDEN")
    assert "infinite (room creator)" in err["error"]
    assert alice.post(f"{API}/rooms/{room_id}/ban", {"user_id": bob.user_id}).status_code == 200


def test_unban_errors(alice, bob):
    room_id = public_room(alice, bob)
    err = assert_error(alice.post(f"{API}/rooms/{room_id}/unban", {"user_id": bob.user_id}), 403, "M_FORBIDDEN")
    assert "not banned" in err["error"]
    assert_error(alice.post(f"{API}/rooms/{room_id}/unban", {}), 400, "M_MISSING_PARAM")
    assert_error(alice.post(f"{API}/rooms/{room_id}/ban", {"user_id": "@"}), 400, "M_INVALID_PARAM")
    assert_error(alice.post(f"{API}/rooms/!nowhere:test.local/ban", {"user_id": bob.user_id}), 404, "M_NOT_FOUND")
    assert_error(alice.post(f"{API}/rooms/!nowhere:test.local/unban", {"user_id": bob.user_id}), 404,
                 "M_NOT_FOUND")


def test_legacy_path_versions(alice, bob):
    room_id = public_room(alice, bob)
    for prefix in ("r0", "api/v1"):
        resp = alice.post(f"/_matrix/client/{prefix}/rooms/{room_id}/ban", {"user_id": bob.user_id})
        assert resp.status_code == 200
        resp = alice.post(f"/_matrix/client/{prefix}/rooms/{room_id}/unban", {"user_id": bob.user_id})
        assert resp.status_code == 200
    assert_error(alice.get(f"{API}/rooms/{room_id}/kick"), 405, "M_UNRECOGNIZED")
