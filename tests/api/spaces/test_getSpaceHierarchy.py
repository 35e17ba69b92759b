"""GET /_matrix/client/v1/rooms/{roomId}/hierarchy and GET /_matrix/client/v1/room_summary/{roomIdOrAlias}."""
from __future__ import annotations

from urllib.parse import quote, urlencode

from tests.api.rooms.helpers import API, create_room
from tests.conftest import assert_error

V1 = "/_matrix/client/v1"
SERVER = "test.local"


def space(client, **kw) -> str:
    return create_room(client, creation_content={"type": "m.space"}, **kw)


def add_child(client, parent: str, child: str, **content):
    body = {"via": [SERVER], **content}
    resp = client.put(f"{API}/rooms/{parent}/state/m.space.child/{quote(child)}", body)
    assert resp.status_code == 200, resp.json_body


def hierarchy(client, room_id: str, **params):
    url = f"{V1}/rooms/{quote(room_id)}/hierarchy" + (f"?{urlencode(params)}" if params else "")
    return client.get(url)


def names(body) -> list[str]:
    return [r.get("name") for r in body["rooms"]]


def _tree(alice):
    s = space(alice, preset="public_chat", name="S")
    a = create_room(alice, preset="public_chat", name="A")
    t = space(alice, preset="public_chat", name="T")
    c = create_room(alice, preset="public_chat", name="C")
    b = create_room(alice, preset="private_chat", name="B")
    add_child(alice, s, b)
    add_child(alice, s, t, order="b")
    add_child(alice, s, a, order="a", suggested=True)
    add_child(alice, t, c)
    return s, a, t, c, b


def test_depth_first_in_child_order_with_access(alice, bob):
    s, a, t, c, b = _tree(alice)
    body = hierarchy(alice, s).json_body
    assert names(body) == ["S", "A", "T", "C", "B"]
    assert "next_batch" not in body
    root = body["rooms"][0]
    assert root["room_id"] == s and root["room_type"] == "m.space" and root["join_rule"] == "public"
    assert root["num_joined_members"] == 1 and root["world_readable"] is False and root["guest_can_join"] is False
    assert [e["state_key"] for e in root["children_state"]] == [a, t, b]
    child = root["children_state"][0]
    assert child["type"] == "m.space.child" and child["sender"] == alice.user_id
    assert child["content"] == {"via": [SERVER], "order": "a", "suggested": True}
    assert isinstance(child["origin_server_ts"], int) and "event_id" not in child
    a_entry = body["rooms"][1]
    assert a_entry["children_state"] == [] and "room_type" not in a_entry and a_entry["room_version"]
    # bob may not see the invite-only room B.
    assert names(hierarchy(bob, s).json_body) == ["S", "A", "T", "C"]


def test_suggested_only_and_max_depth(alice):
    s, *_ = _tree(alice)
    assert names(hierarchy(alice, s, suggested_only="true").json_body) == ["S", "A"]
    assert names(hierarchy(alice, s, max_depth=1).json_body) == ["S", "A", "T", "B"]
    assert names(hierarchy(alice, s, max_depth=0).json_body) == ["S"]


def test_pagination(alice):
    s, *_ = _tree(alice)
    page1 = hierarchy(alice, s, limit=2).json_body
    assert names(page1) == ["S", "A"]
    page2 = hierarchy(alice, s, limit=2, **{"from": page1["next_batch"]}).json_body
    assert names(page2) == ["T", "C"]
    page3 = hierarchy(alice, s, limit=2, **{"from": page2["next_batch"]}).json_body
    assert names(page3) == ["B"] and "next_batch" not in page3
    assert_error(hierarchy(alice, s, limit=2, max_depth=1, **{"from": page1["next_batch"]}), 400, "M_INVALID_PARAM")
    assert_error(hierarchy(alice, s, suggested_only="true", **{"from": page1["next_batch"]}), 400,
                 "M_INVALID_PARAM")
    assert_error(hierarchy(alice, s, **{"from": "garbage"}), 400, "M_INVALID_PARAM")
    assert_error(hierarchy(alice, s, **{"from": "h1.e30"}), 400, "M_INVALID_PARAM")


def test_loops_unknown_and_removed_children(alice):
    s = space(alice, preset="public_chat", name="S")
    t = space(alice, preset="public_chat", name="T")
    add_child(alice, s, t)
    add_child(alice, t, s)  # a loop
    add_child(alice, s, "!elsewhere:remote.example")  # not on this server: skipped
    gone = create_room(alice, preset="public_chat", name="Gone")
    add_child(alice, s, gone)
    assert alice.put(f"{API}/rooms/{s}/state/m.space.child/{quote(gone)}", {}).status_code == 200  # removed
    body = hierarchy(alice, s).json_body
    assert names(body) == ["S", "T"]
    assert {e["state_key"] for e in body["rooms"][0]["children_state"]} == {t, "!elsewhere:remote.example"}


def test_only_space_rooms_have_children(alice):
    plain = create_room(alice, preset="public_chat", name="Plain")
    child = create_room(alice, preset="public_chat", name="Child")
    add_child(alice, plain, child)
    body = hierarchy(alice, plain).json_body
    assert names(body) == ["Plain"] and body["rooms"][0]["children_state"] == []


def test_restricted_and_world_readable_children(alice, bob):
    s = space(alice, preset="public_chat", name="S")
    restricted = create_room(alice, preset="private_chat", name="R")
    assert alice.put(f"{API}/rooms/{restricted}/state/m.room.join_rules",
                     {"join_rule": "restricted", "allow": [{"type": "m.room_membership", "room_id": s}]}
                     ).status_code == 200
    readable = create_room(alice, preset="private_chat", name="W")
    assert alice.put(f"{API}/rooms/{readable}/state/m.room.history_visibility",
                     {"history_visibility": "world_readable"}).status_code == 200
    add_child(alice, s, restricted, order="1")
    add_child(alice, s, readable, order="2")
    assert names(hierarchy(bob, s).json_body) == ["S", "W"]
    assert bob.post(f"{API}/rooms/{s}/join", {}).status_code == 200
    body = hierarchy(bob, s).json_body
    assert names(body) == ["S", "R", "W"]
    assert body["rooms"][1]["allowed_room_ids"] == [s] and body["rooms"][1]["join_rule"] == "restricted"


def test_forbidden_and_bad_input(alice, bob):
    private = space(alice, preset="private_chat", name="P")
    assert_error(hierarchy(bob, private), 403, "M_FORBIDDEN")
    assert_error(hierarchy(bob, "!missing:test.local"), 403, "M_FORBIDDEN")
    assert_error(hierarchy(alice, private, limit=0), 400, "M_INVALID_PARAM")
    assert_error(hierarchy(alice, private, max_depth=-1), 400, "M_INVALID_PARAM")
    assert_error(hierarchy(alice, private, suggested_only="yes"), 400, "M_INVALID_PARAM")
    assert_error(hierarchy(alice, "not-a-room"), 400, "M_INVALID_PARAM")
    mx = alice.__class__()
    assert_error(hierarchy(mx, private), 401, "M_MISSING_TOKEN")


def test_hierarchy_query_count_does_not_grow_with_children(alice, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    s = space(alice, preset="public_chat", name="S")
    for i in range(2):
        add_child(alice, s, create_room(alice, preset="public_chat", name=f"R{i}"))
    with CaptureQueriesContext(connection) as small:
        assert len(hierarchy(alice, s).json_body["rooms"]) == 3
    for i in range(2, 8):
        add_child(alice, s, create_room(alice, preset="public_chat", name=f"R{i}"))
    # Authentication, the space, then one batch for its children (rows, state, members, memberships).
    with django_assert_max_num_queries(16):
        assert len(hierarchy(alice, s).json_body["rooms"]) == 9
    with CaptureQueriesContext(connection) as big:
        hierarchy(alice, s)
    assert len(big) == len(small), [q["sql"] for q in big.captured_queries]


def test_room_summary(alice, bob):
    public = space(alice, preset="public_chat", name="Hall", room_alias_name="hall")
    private = create_room(alice, preset="private_chat", name="Den")
    mx = alice.__class__()

    resp = mx.get(f"{V1}/room_summary/{quote(public)}")
    assert resp.status_code == 200, resp.json_body
    assert resp.json_body["name"] == "Hall" and resp.json_body["room_type"] == "m.space"
    assert "membership" not in resp.json_body
    by_alias = alice.get(f"{V1}/room_summary/{quote('#hall:' + SERVER)}").json_body
    assert by_alias["room_id"] == public and by_alias["membership"] == "join"
    assert by_alias["canonical_alias"] == "#hall:" + SERVER
    assert bob.get(f"{V1}/room_summary/{quote(public)}").json_body["membership"] == "leave"

    assert_error(mx.get(f"{V1}/room_summary/{quote(private)}"), 404, "M_NOT_FOUND")
    assert_error(bob.get(f"{V1}/room_summary/{quote(private)}"), 404, "M_NOT_FOUND")
    assert alice.get(f"{V1}/room_summary/{quote(private)}").json_body["join_rule"] == "invite"
    assert alice.post(f"{API}/rooms/{private}/invite", {"user_id": bob.user_id}).status_code == 200
    assert bob.get(f"{V1}/room_summary/{quote(private)}").json_body["membership"] == "invite"
    assert_error(alice.get(f"{V1}/room_summary/{quote('#nope:' + SERVER)}"), 404, "M_NOT_FOUND")
    assert_error(alice.get(f"{V1}/room_summary/nothing"), 400, "M_INVALID_PARAM")
