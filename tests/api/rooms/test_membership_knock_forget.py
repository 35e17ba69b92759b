"""POST /knock/{roomIdOrAlias} (v7+ rooms whose join rule allows it), POST /rooms/{roomId}/forget, and
the join/invite/leave edge cases around them."""
from __future__ import annotations

import pytest

from apps.rooms import stores
from tests.api.rooms.helpers import API, create_room, send
from tests.conftest import MatrixClient, assert_error


def knock_room(alice, version="11", rule="knock"):
    return create_room(alice, room_version=version,
                       initial_state=[{"type": "m.room.join_rules", "content": {"join_rule": rule}}])


def member(client, room_id, user_id):
    return client.get(f"{API}/rooms/{room_id}/state/m.room.member/{user_id}").json_body


@pytest.mark.parametrize("version,rule", [("7", "knock"), ("10", "knock_restricted"), ("11", "knock"),
                                          ("12", "knock")])
def test_knock_then_invite_and_join(alice, bob, version, rule):
    bob.put(f"{API}/profile/{bob.user_id}/displayname", {"displayname": "Bobby"})
    room_id = knock_room(alice, version, rule)
    assert_error(bob.post(f"{API}/rooms/{room_id}/join"), 403, "M_FORBIDDEN")
    resp = bob.post(f"{API}/knock/{room_id}", {"reason": "let me in"})
    assert resp.status_code == 200, resp.json_body
    assert resp.json_body == {"room_id": room_id}
    assert member(alice, room_id, bob.user_id) == {"membership": "knock", "displayname": "Bobby",
                                                   "reason": "let me in"}
    # Knocking is not joining: no room content for the knocker.
    assert_error(bob.get(f"{API}/rooms/{room_id}/state"), 403, "M_FORBIDDEN")
    assert alice.post(f"{API}/rooms/{room_id}/invite", {"user_id": bob.user_id}).status_code == 200
    assert member(alice, room_id, bob.user_id)["membership"] == "invite"
    assert bob.post(f"{API}/join/{room_id}").json_body == {"room_id": room_id}
    assert member(alice, room_id, bob.user_id)["membership"] == "join"


def test_knock_by_alias(alice, bob):
    room_id = knock_room(alice)
    assert alice.put(f"{API}/directory/room/%23knockers:test.local", {"room_id": room_id}).status_code == 200
    assert bob.post(f"{API}/knock/%23knockers:test.local", {}).json_body == {"room_id": room_id}
    assert member(alice, room_id, bob.user_id)["membership"] == "knock"
    assert_error(bob.post(f"{API}/knock/%23bad", {}), 400, "M_INVALID_PARAM")


def test_knock_rescinded_or_refused(alice, bob):
    room_id = knock_room(alice)
    bob.post(f"{API}/knock/{room_id}", {})
    # The knocker takes it back by leaving ...
    assert bob.post(f"{API}/rooms/{room_id}/leave").status_code == 200
    assert member(alice, room_id, bob.user_id)["membership"] == "leave"
    # ... or a moderator refuses it with a kick.
    assert bob.post(f"{API}/knock/{room_id}", {}).status_code == 200
    assert alice.post(f"{API}/rooms/{room_id}/kick", {"user_id": bob.user_id, "reason": "no"}).status_code == 200
    assert member(alice, room_id, bob.user_id) == {"membership": "leave", "reason": "no"}


def test_knock_errors(alice, bob):
    invite_only = create_room(alice, room_version="11")
    err = assert_error(bob.post(f"{API}/knock/{invite_only}", {}), 403, "M_FORBIDDEN")
    assert "knock" in err["error"]
    old = knock_room(alice, version="6")
    assert "version" in assert_error(bob.post(f"{API}/knock/{old}", {}), 403, "M_FORBIDDEN")["error"]
    # v7-v9 have no knock_restricted.
    v9 = knock_room(alice, version="9", rule="knock_restricted")
    assert_error(bob.post(f"{API}/knock/{v9}", {}), 403, "M_FORBIDDEN")
    room_id = knock_room(alice)
    assert_error(alice.post(f"{API}/knock/{room_id}", {}), 403, "M_FORBIDDEN")  # already joined
    assert_error(bob.post(f"{API}/knock/!nowhere:test.local", {}), 404, "M_NOT_FOUND")
    assert_error(bob.post(f"{API}/knock/%23nowhere:test.local", {}), 404, "M_NOT_FOUND")
    assert_error(bob.post(f"{API}/knock/nowhere", {}), 400, "M_INVALID_PARAM")
    assert_error(bob.post(f"{API}/knock/{room_id}", {"reason": 3}), 400, "M_BAD_JSON")
    assert_error(bob.post(f"{API}/knock/{room_id}", raw=b"[]"), 400, "M_BAD_JSON")
    assert_error(bob.post(f"{API}/knock/{room_id}", {}, token=None), 401, "M_MISSING_TOKEN")
    # Invited or banned users cannot knock.
    alice.post(f"{API}/rooms/{room_id}/invite", {"user_id": bob.user_id})
    assert "invited" in assert_error(bob.post(f"{API}/knock/{room_id}", {}), 403, "M_FORBIDDEN")["error"]
    alice.post(f"{API}/rooms/{room_id}/ban", {"user_id": bob.user_id})
    assert "banned" in assert_error(bob.post(f"{API}/knock/{room_id}", {}), 403, "M_FORBIDDEN")["error"]


def test_forget_after_leaving_hides_the_room(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    bob.post(f"{API}/rooms/{room_id}/join")
    early = send(alice, room_id).json_body["event_id"]
    err = assert_error(bob.post(f"{API}/rooms/{room_id}/forget"), 400, "M_UNKNOWN")
    assert bob.user_id in err["error"]
    assert room_id in bob.get(f"{API}/joined_rooms").json_body["joined_rooms"]

    bob.post(f"{API}/rooms/{room_id}/leave")
    # Left but not forgotten: the history up to the leave is still there.
    assert bob.get(f"{API}/rooms/{room_id}/event/{early}").status_code == 200
    assert room_id in stores.room_ids_for_user(bob.user_id, ["leave"])
    assert bob.post(f"{API}/rooms/{room_id}/forget").json_body == {}
    assert bob.post(f"{API}/rooms/{room_id}/forget").status_code == 200  # twice is fine
    assert room_id not in bob.get(f"{API}/joined_rooms").json_body["joined_rooms"]
    assert room_id not in stores.room_ids_for_user(bob.user_id, ["leave"])
    assert room_id in stores.room_ids_for_user(bob.user_id, ["leave"], include_forgotten=True)
    assert_error(bob.get(f"{API}/rooms/{room_id}/event/{early}"), 404, "M_NOT_FOUND")
    assert_error(bob.get(f"{API}/rooms/{room_id}/state"), 403, "M_FORBIDDEN")
    assert_error(bob.get(f"{API}/rooms/{room_id}/members"), 403, "M_FORBIDDEN")
    # Joining again brings the room back.
    assert bob.post(f"{API}/rooms/{room_id}/join").status_code == 200
    assert room_id in bob.get(f"{API}/joined_rooms").json_body["joined_rooms"]
    assert bob.get(f"{API}/rooms/{room_id}/event/{early}").status_code == 200


def test_forget_after_a_ban_and_a_new_invite(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    bob.post(f"{API}/rooms/{room_id}/join")
    alice.post(f"{API}/rooms/{room_id}/ban", {"user_id": bob.user_id})
    assert bob.post(f"{API}/rooms/{room_id}/forget").status_code == 200
    assert room_id not in stores.room_ids_for_user(bob.user_id, ["ban", "leave"])
    # Forgetting does not lift the ban.
    assert_error(bob.post(f"{API}/rooms/{room_id}/join"), 403, "M_FORBIDDEN")
    assert_error(alice.post(f"{API}/rooms/{room_id}/kick", {"user_id": bob.user_id}), 403, "M_FORBIDDEN")
    alice.post(f"{API}/rooms/{room_id}/unban", {"user_id": bob.user_id})
    alice.post(f"{API}/rooms/{room_id}/invite", {"user_id": bob.user_id})
    assert room_id in stores.room_ids_for_user(bob.user_id, ["invite"])


def test_forget_errors(alice, bob):
    # Never in the room, or no such room: nothing to forget (as Synapse).
    other = create_room(alice)
    assert bob.post(f"{API}/rooms/{other}/forget").status_code == 200
    assert bob.post(f"{API}/rooms/!nowhere:test.local/forget").status_code == 200
    assert_error(bob.post(f"{API}/rooms/nowhere/forget"), 400, "M_INVALID_PARAM")
    assert_error(bob.post(f"{API}/rooms/{other}/forget", token=None), 401, "M_MISSING_TOKEN")
    # An invite is not a departure.
    alice.post(f"{API}/rooms/{other}/invite", {"user_id": bob.user_id})
    assert_error(bob.post(f"{API}/rooms/{other}/forget"), 400, "M_UNKNOWN")


def test_join_invite_leave_edge_cases(alice, bob):
    carol = MatrixClient()
    carol.register("carol")
    public = create_room(alice, preset="public_chat")
    private = create_room(alice)
    # A public room by ID, without an invite; an invite-only room needs one.
    assert bob.post(f"{API}/rooms/{public}/join").status_code == 200
    assert "invited" in assert_error(bob.post(f"{API}/rooms/{private}/join"), 403, "M_FORBIDDEN")["error"]
    # Inviting someone already joined.
    assert "already" in assert_error(alice.post(f"{API}/rooms/{public}/invite", {"user_id": bob.user_id}),
                                     403, "M_FORBIDDEN")["error"]
    # Leaving a room one was never in.
    assert_error(carol.post(f"{API}/rooms/{private}/leave"), 403, "M_FORBIDDEN")
    assert_error(carol.post(f"{API}/rooms/!nowhere:test.local/leave"), 404, "M_NOT_FOUND")
    # Rejecting an invite by leaving; the invite is then gone.
    alice.post(f"{API}/rooms/{private}/invite", {"user_id": carol.user_id})
    assert carol.post(f"{API}/rooms/{private}/leave").status_code == 200
    assert_error(carol.post(f"{API}/rooms/{private}/join"), 403, "M_FORBIDDEN")
