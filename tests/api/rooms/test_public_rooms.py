"""The published room directory: getRoomVisibilityOnDirectory, setRoomVisibilityOnDirectory,
getPublicRooms and queryPublicRooms (filters, pagination, bounded queries)."""
from __future__ import annotations

from urllib.parse import quote

from tests.api.rooms.helpers import API, create_room
from tests.conftest import assert_error

SERVER = "test.local"


def _vis(client, room_id, **kw):
    return client.get(f"{API}/directory/list/room/{room_id}", **kw)


# --- visibility ----------------------------------------------------------------------------------------

def test_create_room_visibility(alice, mx):
    public = create_room(alice, visibility="public")
    private = create_room(alice)
    assert _vis(mx, public, token=None).json_body == {"visibility": "public"}
    assert _vis(alice, private).json_body == {"visibility": "private"}


def test_visibility_errors(alice):
    assert_error(_vis(alice, f"!unknown:{SERVER}"), 404, "M_NOT_FOUND")
    assert_error(_vis(alice, "nope"), 400, "M_INVALID_PARAM")


def test_set_visibility(alice, bob):
    room = create_room(alice, preset="public_chat")
    path = f"{API}/directory/list/room/{room}"
    assert alice.put(path, {"visibility": "public"}).status_code == 200
    assert _vis(alice, room).json_body == {"visibility": "public"}
    assert alice.put(path, {"visibility": "private"}).status_code == 200
    assert _vis(alice, room).json_body == {"visibility": "private"}
    assert alice.put(path, {}).status_code == 200  # defaults to public
    assert _vis(alice, room).json_body == {"visibility": "public"}


def test_set_visibility_permissions(alice, bob):
    room = create_room(alice, preset="public_chat")
    path = f"{API}/directory/list/room/{room}"
    assert_error(bob.put(path, {"visibility": "public"}), 403, "M_FORBIDDEN")  # not in the room
    bob.post(f"{API}/join/{room}")
    assert_error(bob.put(path, {"visibility": "public"}), 403, "M_FORBIDDEN")  # no power
    from apps.accounts.models import User

    User.objects.filter(localpart="bob").update(admin=True)
    assert bob.put(path, {"visibility": "public"}).status_code == 200


def test_set_visibility_bad_input(alice):
    room = create_room(alice)
    path = f"{API}/directory/list/room/{room}"
    assert_error(alice.put(path, {"visibility": "hidden"}), 400, "M_INVALID_PARAM")
    assert_error(alice.put(path, {"visibility": 1}), 400, "M_BAD_JSON")
    assert_error(alice.put(f"{API}/directory/list/room/!unknown:{SERVER}", {}), 404, "M_NOT_FOUND")
    assert_error(alice.put(path, {}, token=None), 401, "M_MISSING_TOKEN")


# --- listing -------------------------------------------------------------------------------------------

def test_public_rooms_lists_published_rooms(alice, bob, mx):
    room = create_room(alice, visibility="public", name="The Pub", topic="Beer", room_alias_name="pub")
    create_room(alice)  # private: not listed
    bob.post(f"{API}/join/{room}")
    resp = mx.get(f"{API}/publicRooms", token=None)
    assert resp.status_code == 200, resp.json_body
    body = resp.json_body
    assert body["total_room_count_estimate"] == 1
    assert body["chunk"] == [{
        "room_id": room, "num_joined_members": 2, "world_readable": False, "guest_can_join": False,
        "name": "The Pub", "topic": "Beer", "canonical_alias": f"#pub:{SERVER}", "join_rule": "public",
    }]
    assert "next_batch" not in body and "prev_batch" not in body


def test_public_rooms_fields(alice):
    room = create_room(alice, visibility="public", creation_content={"type": "m.space"},
                       initial_state=[{"type": "m.room.history_visibility", "content": {"history_visibility":
                                                                                          "world_readable"}},
                                      {"type": "m.room.guest_access", "content": {"guest_access": "can_join"}},
                                      {"type": "m.room.avatar", "content": {"url": "mxc://test.local/abc"}}])
    entry = alice.get(f"{API}/publicRooms").json_body["chunk"][0]
    assert entry["room_id"] == room
    assert entry["world_readable"] is True and entry["guest_can_join"] is True
    assert entry["room_type"] == "m.space" and entry["avatar_url"] == "mxc://test.local/abc"


def test_invite_only_published_room_is_not_listed(alice):
    create_room(alice, visibility="public", preset="private_chat")
    assert alice.get(f"{API}/publicRooms").json_body["chunk"] == []


def test_unpublished_room_leaves_the_listing(alice):
    room = create_room(alice, visibility="public")
    alice.put(f"{API}/directory/list/room/{room}", {"visibility": "private"})
    assert alice.get(f"{API}/publicRooms").json_body["chunk"] == []


def _make_rooms(alice, client_factory, n=5):
    """n public rooms with 1..n members: room i has i members."""
    users = []
    for i in range(n - 1):
        c = client_factory()
        c.register(f"user{i}")
        users.append(c)
    rooms = []
    for i in range(n):
        room = create_room(alice, visibility="public", name=f"room {i}")
        for c in users[:i]:
            assert c.post(f"{API}/join/{room}").status_code == 200
        rooms.append(room)
    return rooms


def test_order_and_pagination(alice, client_factory):
    rooms = _make_rooms(alice, client_factory)
    expected = list(reversed(rooms))  # most members first
    body = alice.get(f"{API}/publicRooms?limit=2").json_body
    assert [e["room_id"] for e in body["chunk"]] == expected[:2]
    assert "prev_batch" not in body
    page2 = alice.get(f"{API}/publicRooms?limit=2&since={body['next_batch']}").json_body
    assert [e["room_id"] for e in page2["chunk"]] == expected[2:4]
    page3 = alice.get(f"{API}/publicRooms?limit=2&since={page2['next_batch']}").json_body
    assert [e["room_id"] for e in page3["chunk"]] == expected[4:]
    assert "next_batch" not in page3
    back = alice.get(f"{API}/publicRooms?limit=2&since={page3['prev_batch']}").json_body
    assert [e["room_id"] for e in back["chunk"]] == expected[2:4]
    back2 = alice.get(f"{API}/publicRooms?limit=2&since={back['prev_batch']}").json_body
    assert [e["room_id"] for e in back2["chunk"]] == expected[:2]
    assert "prev_batch" not in back2
    # POST paginates the same way
    post = alice.post(f"{API}/publicRooms", {"limit": 2, "since": body["next_batch"]}).json_body
    assert [e["room_id"] for e in post["chunk"]] == expected[2:4]


def test_public_rooms_query_count_is_bounded(alice, client_factory, django_assert_max_num_queries):
    _make_rooms(alice, client_factory, 3)
    with django_assert_max_num_queries(6):
        assert len(alice.get(f"{API}/publicRooms").json_body["chunk"]) == 3
    for i in range(6):
        create_room(alice, visibility="public", name=f"more {i}", topic="t")
    with django_assert_max_num_queries(6):
        assert len(alice.get(f"{API}/publicRooms").json_body["chunk"]) == 9
    with django_assert_max_num_queries(2):
        assert len(alice.get(f"{API}/publicRooms", token=None).json_body["chunk"]) == 9
    with django_assert_max_num_queries(6):
        resp = alice.post(f"{API}/publicRooms", {"filter": {"generic_search_term": "more"}})
    assert len(resp.json_body["chunk"]) == 6


def test_filters(alice):
    pub = create_room(alice, visibility="public", name="Pub Quiz", room_alias_name="quiz")
    space = create_room(alice, visibility="public", topic="a space about QUIZZES",
                        creation_content={"type": "m.space"})
    other = create_room(alice, visibility="public", name="Knitting")

    def ids(body):
        resp = alice.post(f"{API}/publicRooms", body)
        assert resp.status_code == 200, resp.json_body
        return {e["room_id"] for e in resp.json_body["chunk"]}

    assert ids({"filter": {"generic_search_term": "quiz"}}) == {pub, space}
    assert ids({"filter": {"generic_search_term": "#quiz:"}}) == {pub}
    assert ids({"filter": {"room_types": ["m.space"]}}) == {space}
    assert ids({"filter": {"room_types": [None]}}) == {pub, other}
    assert ids({"filter": {"room_types": [None, "m.space"], "generic_search_term": "knit"}}) == {other}
    assert ids({}) == {pub, space, other}
    assert ids({"include_all_networks": True}) == {pub, space, other}
    assert ids({"third_party_instance_id": "irc"}) == set()


def test_public_rooms_bad_input(alice, mx):
    get = f"{API}/publicRooms"
    for since in ("garbage", "pr1.garbage", "pr1." + "e30", quote("pr1.!!!")):
        assert_error(alice.get(f"{get}?since={since}"), 400, "M_INVALID_PARAM")
        assert_error(alice.post(get, {"since": since}), 400, "M_INVALID_PARAM")
    assert_error(alice.get(f"{get}?limit=abc"), 400, "M_INVALID_PARAM")
    assert_error(alice.get(f"{get}?limit=-1"), 400, "M_INVALID_PARAM")
    assert_error(alice.post(get, {"limit": -1}), 400, "M_INVALID_PARAM")
    assert_error(alice.post(get, {"limit": "3"}), 400, "M_BAD_JSON")
    assert_error(alice.post(get, {"filter": "x"}), 400, "M_BAD_JSON")
    assert_error(alice.post(get, {"filter": {"generic_search_term": 3}}), 400, "M_BAD_JSON")
    assert_error(alice.post(get, {"filter": {"room_types": "m.space"}}), 400, "M_BAD_JSON")
    assert_error(alice.post(get, {"filter": {"room_types": [3]}}), 400, "M_BAD_JSON")
    assert_error(alice.post(get, {"include_all_networks": True, "third_party_instance_id": "irc"}),
                 400, "M_INVALID_PARAM")
    assert_error(alice.request("POST", get, raw=b"[1]"), 400, "M_BAD_JSON")
    assert_error(mx.post(get, {}, token=None), 401, "M_MISSING_TOKEN")
    assert_error(mx.get(get, token="syt_bogus"), 401, "M_UNKNOWN_TOKEN")
    assert_error(alice.get(f"{get}?server=elsewhere.example"), 404, "M_NOT_FOUND")
    assert_error(alice.get(f"{get}?server=bad%20name"), 400, "M_INVALID_PARAM")
    assert alice.get(f"{get}?server={SERVER}").status_code == 200
    assert alice.get(f"{get}?limit=0").json_body["chunk"] == []
