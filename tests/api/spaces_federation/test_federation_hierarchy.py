"""GET /_matrix/federation/v1/hierarchy/{roomId} (server-server getSpaceHierarchy): a space of this server
and its children as the requesting server may see them, with `inaccessible_children`."""
from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.api.federation.remote import FED, FakeRemote, q
from tests.api.rooms.helpers import API, create_room
from tests.conftest import assert_error

SERVER = "test.local"


@pytest.fixture
def remote(db):
    return FakeRemote("remote.test")


def space(client, **kw) -> str:
    return create_room(client, creation_content={"type": "m.space"}, **kw)


def put_state(client, room_id: str, event_type: str, content: dict, state_key: str = ""):
    resp = client.put(f"{API}/rooms/{room_id}/state/{event_type}/{quote(state_key)}", content)
    assert resp.status_code == 200, resp.json_body


def add_child(client, parent: str, child: str, **content):
    put_state(client, parent, "m.space.child", {"via": [SERVER], **content}, child)


def hierarchy(remote, room_id: str, **query):
    return remote.get(f"{FED}/v1/hierarchy/{q(room_id)}", query=query or None)


def test_children_as_the_requesting_server_may_see_them(alice, remote):
    s = space(alice, preset="public_chat", name="S", topic="The space")
    pub = create_room(alice, preset="public_chat", name="Pub")
    priv = create_room(alice, preset="private_chat", name="Priv")
    readable = create_room(alice, preset="private_chat", name="Readable")
    put_state(alice, readable, "m.room.history_visibility", {"history_visibility": "world_readable"})
    restricted = create_room(alice, preset="private_chat", name="Restricted")
    put_state(alice, restricted, "m.room.join_rules",
              {"join_rule": "restricted", "allow": [{"type": "m.room_membership", "room_id": s}]})
    sub = space(alice, preset="public_chat", name="Sub")
    add_child(alice, sub, pub)
    add_child(alice, s, pub, order="a", suggested=True)
    add_child(alice, s, priv, order="b")
    add_child(alice, s, readable, order="c")
    add_child(alice, s, restricted, order="d")
    add_child(alice, s, sub, order="e")
    add_child(alice, s, "!elsewhere:other.test", order="f")  # not on this server: left out

    resp = hierarchy(remote, s)
    assert resp.status_code == 200, resp.json_body
    body = resp.json_body
    room = body["room"]
    assert room["room_id"] == s and room["name"] == "S" and room["topic"] == "The space"
    assert room["room_type"] == "m.space" and room["join_rule"] == "public" and room["num_joined_members"] == 1
    assert room["world_readable"] is False and room["guest_can_join"] is False and room["room_version"]
    assert [c["state_key"] for c in room["children_state"]] == [pub, priv, readable, restricted, sub,
                                                               "!elsewhere:other.test"]
    first = room["children_state"][0]
    assert first["type"] == "m.space.child" and first["sender"] == alice.user_id
    assert first["content"] == {"via": [SERVER], "order": "a", "suggested": True}
    assert isinstance(first["origin_server_ts"], int) and "event_id" not in first
    assert [c["room_id"] for c in body["children"]] == [pub, readable, sub]
    assert body["inaccessible_children"] == [priv, restricted]
    by_id = {c["room_id"]: c for c in body["children"]}
    assert by_id[readable]["world_readable"] is True and by_id[pub]["name"] == "Pub"
    assert [c["state_key"] for c in by_id[sub]["children_state"]] == [pub]
    assert by_id[pub]["children_state"] == []

    # Once a user of the requesting server is in the space, the rooms it allows are visible to it.
    remote.join(s, remote.user("bob"))
    body = hierarchy(remote, s).json_body
    assert [c["room_id"] for c in body["children"]] == [pub, readable, restricted, sub]
    assert body["inaccessible_children"] == [priv]
    restricted_entry = body["children"][2]
    assert restricted_entry["join_rule"] == "restricted" and restricted_entry["allowed_room_ids"] == [s]

    body = hierarchy(remote, s, suggested_only="true").json_body
    assert [c["state_key"] for c in body["room"]["children_state"]] == [pub]
    assert [c["room_id"] for c in body["children"]] == [pub] and body["inaccessible_children"] == []


def test_a_private_space_is_seen_by_servers_in_it_only(alice, remote):
    s = space(alice, preset="public_chat", name="S")
    remote.join(s, remote.user("bob"))
    put_state(alice, s, "m.room.join_rules", {"join_rule": "invite"})
    assert hierarchy(remote, s).status_code == 200
    other = FakeRemote("other.test")
    assert_error(hierarchy(other, s), 404, "M_NOT_FOUND")

    # A server the room's ACL denies sees nothing of it.
    put_state(alice, s, "m.room.server_acl", {"allow": ["*"], "deny": ["remote.test"]})
    assert_error(hierarchy(remote, s), 404, "M_NOT_FOUND")


def test_acl_hides_a_child_from_a_denied_server(alice, remote):
    s = space(alice, preset="public_chat", name="S")
    walled = create_room(alice, preset="public_chat", name="Walled")
    put_state(alice, walled, "m.room.server_acl", {"allow": ["*"], "deny": ["remote.*"]})
    add_child(alice, s, walled)
    body = hierarchy(remote, s).json_body
    assert body["children"] == [] and body["inaccessible_children"] == [walled]
    body = hierarchy(FakeRemote("other.test"), s).json_body
    assert [c["room_id"] for c in body["children"]] == [walled]


def test_a_plain_room_has_no_children(alice, remote):
    plain = create_room(alice, preset="public_chat", name="Plain")
    add_child(alice, plain, create_room(alice, preset="public_chat"))
    body = hierarchy(remote, plain).json_body
    assert body == {"room": body["room"], "children": [], "inaccessible_children": []}
    assert body["room"]["children_state"] == [] and "room_type" not in body["room"]


def test_errors(alice, remote):
    s = space(alice, preset="public_chat", name="S")
    assert_error(hierarchy(remote, "!unknown:test.local"), 404, "M_NOT_FOUND")
    assert_error(hierarchy(remote, "not-a-room"), 400, "M_INVALID_PARAM")
    assert_error(hierarchy(remote, s, suggested_only="maybe"), 400, "M_INVALID_PARAM")
    assert_error(remote.get(f"{FED}/v1/hierarchy/{q(s)}", sign=False), 401, "M_UNAUTHORIZED")
    assert_error(alice.get(f"{FED}/v1/hierarchy/{q(s)}"), 401, "M_UNAUTHORIZED")
