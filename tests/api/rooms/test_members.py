"""GET /rooms/{roomId}/members (at, membership, not_membership) and GET /rooms/{roomId}/joined_members."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.rooms.models import EventRow
from apps.streams.tokens import StreamToken
from tests.api.rooms.helpers import API, create_room, send
from tests.conftest import MatrixClient, assert_error


def user(name: str) -> MatrixClient:
    c = MatrixClient()
    c.register(name)
    return c


def members(client, room_id, query=""):
    resp = client.get(f"{API}/rooms/{room_id}/members{query}")
    assert resp.status_code == 200, resp.json_body
    return {e["state_key"]: e["content"]["membership"] for e in resp.json_body["chunk"]}


def token_after(event_id: str) -> str:
    pos = EventRow.objects.get(event_id=event_id).stream_ordering
    return StreamToken({"events": pos}).to_string()


@pytest.fixture
def crowd(alice, bob):
    """alice (creator) and bob joined, carol invited, dave banned, erin left."""
    carol, dave, erin = user("carol"), user("dave"), user("erin")
    room_id = create_room(alice, preset="public_chat")
    bob.post(f"{API}/rooms/{room_id}/join")
    alice.post(f"{API}/rooms/{room_id}/invite", {"user_id": carol.user_id})
    alice.post(f"{API}/rooms/{room_id}/ban", {"user_id": dave.user_id})
    erin.post(f"{API}/rooms/{room_id}/join")
    erin.post(f"{API}/rooms/{room_id}/leave")
    return room_id, carol, dave, erin


def test_members_are_client_events(alice, bob, crowd):
    room_id, carol, dave, erin = crowd
    resp = bob.get(f"{API}/rooms/{room_id}/members")
    assert resp.status_code == 200
    chunk = resp.json_body["chunk"]
    assert {e["state_key"]: e["content"]["membership"] for e in chunk} == {
        alice.user_id: "join", bob.user_id: "join", carol.user_id: "invite", dave.user_id: "ban",
        erin.user_id: "leave"}
    for e in chunk:
        assert e["type"] == "m.room.member" and e["room_id"] == room_id
        assert {"event_id", "sender", "origin_server_ts", "content", "unsigned"} <= e.keys()


def test_membership_filters(alice, crowd):
    room_id, carol, dave, erin = crowd
    assert set(members(alice, room_id, "?membership=join")) == {alice.user_id, "@bob:test.local"}
    assert set(members(alice, room_id, "?membership=ban")) == {dave.user_id}
    assert set(members(alice, room_id, "?not_membership=join")) == {carol.user_id, dave.user_id, erin.user_id}
    # Both: an OR (the spec) — membership is `invite` or is not `leave`.
    both = members(alice, room_id, "?membership=invite&not_membership=leave")
    assert set(both) == {alice.user_id, "@bob:test.local", carol.user_id, dave.user_id}
    assert set(members(alice, room_id, "?membership=knock")) == set()
    assert_error(alice.get(f"{API}/rooms/{room_id}/members?membership=joined"), 400, "M_INVALID_PARAM")
    assert_error(alice.get(f"{API}/rooms/{room_id}/members?not_membership="), 400, "M_INVALID_PARAM")


def test_former_member_sees_the_members_when_they_left(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    bob.post(f"{API}/rooms/{room_id}/join")
    bob.post(f"{API}/rooms/{room_id}/leave")
    carol = user("carol")
    carol.post(f"{API}/rooms/{room_id}/join")
    assert members(bob, room_id) == {alice.user_id: "join", bob.user_id: "leave"}
    assert members(bob, room_id, "?membership=join") == {alice.user_id: "join"}
    assert carol.user_id in members(alice, room_id)
    # A kicked user too.
    alice.post(f"{API}/rooms/{room_id}/kick", {"user_id": carol.user_id})
    user("dave").post(f"{API}/rooms/{room_id}/join")
    assert set(members(carol, room_id)) == {alice.user_id, bob.user_id, carol.user_id}


def test_members_at_a_token(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    first = send(alice, room_id).json_body["event_id"]
    bob.post(f"{API}/rooms/{room_id}/join")
    at_first = token_after(first)
    assert members(alice, room_id, f"?at={at_first}") == {alice.user_id: "join"}
    assert set(members(alice, room_id)) == {alice.user_id, bob.user_id}
    # bob joined after that point, and the room's history is `shared`: he may look.
    assert members(bob, room_id, f"?at={at_first}") == {alice.user_id: "join"}
    # A former member's view stops at their departure, whatever the token.
    bob.post(f"{API}/rooms/{room_id}/leave")
    user("carol").post(f"{API}/rooms/{room_id}/join")
    later = send(alice, room_id).json_body["event_id"]
    assert members(bob, room_id, f"?at={token_after(later)}") == {alice.user_id: "join", bob.user_id: "leave"}
    assert members(bob, room_id, f"?at={at_first}") == {alice.user_id: "join"}
    # Before the room existed.
    assert_error(alice.get(f"{API}/rooms/{room_id}/members?at=s0"), 404, "M_NOT_FOUND")


def test_members_at_a_messages_token(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    first = send(alice, room_id).json_body["event_id"]
    bob.post(f"{API}/rooms/{room_id}/join")
    row = EventRow.objects.get(event_id=first)
    # /messages hands out topological tokens `t<depth>-<stream>`.
    assert members(alice, room_id, f"?at=t{row.depth}-{row.stream_ordering}") == {alice.user_id: "join"}
    resp = alice.get(f"{API}/rooms/{room_id}/messages?dir=b&limit=1")
    if resp.status_code == 200:  # the /messages endpoint's own token
        assert set(members(alice, room_id, f"?at={resp.json_body['start']}")) == {alice.user_id, bob.user_id}


def test_members_at_respects_joined_history_visibility(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    alice.put(f"{API}/rooms/{room_id}/state/m.room.history_visibility", {"history_visibility": "joined"})
    before = send(alice, room_id).json_body["event_id"]
    bob.post(f"{API}/rooms/{room_id}/join")
    assert_error(bob.get(f"{API}/rooms/{room_id}/members?at={token_after(before)}"), 403, "M_FORBIDDEN")
    assert set(members(bob, room_id)) == {alice.user_id, bob.user_id}


@pytest.mark.parametrize("at", ["garbage", "s1_x", "t1-x", "t1", "s" + "9" * 40, "", "m1~"])
def test_bad_at_token(alice, at):
    room_id = create_room(alice)
    assert_error(alice.get(f"{API}/rooms/{room_id}/members?at={at}"), 400, "M_INVALID_PARAM")


def test_members_errors(alice, bob):
    room_id = create_room(alice)
    assert_error(bob.get(f"{API}/rooms/{room_id}/members"), 403, "M_FORBIDDEN")
    alice.post(f"{API}/rooms/{room_id}/invite", {"user_id": bob.user_id})
    assert_error(bob.get(f"{API}/rooms/{room_id}/members"), 403, "M_FORBIDDEN")  # invited is not a member
    assert_error(alice.get(f"{API}/rooms/!nowhere:test.local/members"), 404, "M_NOT_FOUND")
    assert_error(alice.get(f"{API}/rooms/nowhere/members"), 400, "M_INVALID_PARAM")
    assert_error(alice.get(f"{API}/rooms/{room_id}/members", token=None), 401, "M_MISSING_TOKEN")
    assert_error(alice.post(f"{API}/rooms/{room_id}/members"), 405, "M_UNRECOGNIZED")


def test_joined_members(alice, bob):
    alice.put(f"{API}/profile/{alice.user_id}/displayname", {"displayname": "Alice"})
    alice.put(f"{API}/profile/{alice.user_id}/avatar_url", {"avatar_url": "mxc://test.local/abc"})
    room_id = create_room(alice, preset="public_chat")
    bob.post(f"{API}/rooms/{room_id}/join")
    carol = user("carol")
    alice.post(f"{API}/rooms/{room_id}/invite", {"user_id": carol.user_id})
    resp = alice.get(f"{API}/rooms/{room_id}/joined_members")
    assert resp.status_code == 200
    assert resp.json_body == {"joined": {alice.user_id: {"display_name": "Alice",
                                                         "avatar_url": "mxc://test.local/abc"},
                                         bob.user_id: {"display_name": "bob"}}}
    # Members only: not the invited, not a former member.
    assert_error(carol.get(f"{API}/rooms/{room_id}/joined_members"), 403, "M_FORBIDDEN")
    bob.post(f"{API}/rooms/{room_id}/leave")
    assert_error(bob.get(f"{API}/rooms/{room_id}/joined_members"), 403, "M_FORBIDDEN")
    assert_error(alice.get(f"{API}/rooms/!nowhere:test.local/joined_members"), 404, "M_NOT_FOUND")
    assert_error(alice.get(f"{API}/rooms/{room_id}/joined_members", token=None), 401, "M_MISSING_TOKEN")


def test_joined_members_of_a_world_readable_room(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    alice.put(f"{API}/rooms/{room_id}/state/m.room.history_visibility", {"history_visibility": "world_readable"})
    assert set(bob.get(f"{API}/rooms/{room_id}/joined_members").json_body["joined"]) == {alice.user_id}


def _count(client, path) -> int:
    with CaptureQueriesContext(connection) as ctx:
        resp = client.get(path)
    assert resp.status_code == 200, resp.json_body
    return len(ctx.captured_queries)


def test_query_counts_do_not_grow_with_the_room(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    bob.post(f"{API}/rooms/{room_id}/join")
    bob.post(f"{API}/rooms/{room_id}/leave")
    paths = {
        "members": (alice, f"{API}/rooms/{room_id}/members"),
        "members_filtered": (alice, f"{API}/rooms/{room_id}/members?membership=join"),
        "members_former": (bob, f"{API}/rooms/{room_id}/members"),
        "joined_members": (alice, f"{API}/rooms/{room_id}/joined_members"),
    }
    small = {k: _count(c, p) for k, (c, p) in paths.items()}
    for i in range(15):
        user(f"member{i}").post(f"{API}/rooms/{room_id}/join")
    large = {k: _count(c, p) for k, (c, p) in paths.items()}
    assert large == small
    assert max(large.values()) <= 6, large


def test_members_query_bound(alice, django_assert_max_num_queries):
    room_id = create_room(alice, preset="public_chat")
    for i in range(5):
        user(f"member{i}").post(f"{API}/rooms/{room_id}/join")
    with django_assert_max_num_queries(6):
        assert len(alice.get(f"{API}/rooms/{room_id}/members").json_body["chunk"]) == 6
    with django_assert_max_num_queries(6):
        assert len(alice.get(f"{API}/rooms/{room_id}/joined_members").json_body["joined"]) == 6
