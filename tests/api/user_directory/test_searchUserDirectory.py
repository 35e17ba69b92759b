"""searchUserDirectory: who can be found (shared rooms, public and world-readable rooms, everyone with
search_all_users), matching on user ID and display name case-insensitively, limit and limited, no
deactivated users, the `enabled` switch, bad bodies."""
from __future__ import annotations

import pytest

from tests.api.rooms.helpers import create_room
from tests.api.sync.helpers import API
from tests.conftest import MatrixClient, assert_error

pytestmark = pytest.mark.django_db(transaction=True)


def search(client, term, **extra):
    resp = client.post(f"{API}/user_directory/search", {"search_term": term, **extra})
    assert resp.status_code == 200, resp.json_body
    return resp.json_body


def ids(body):
    return [r["user_id"] for r in body["results"]]


def user(localpart, displayname=None) -> MatrixClient:
    c = MatrixClient()
    c.register(localpart)
    if displayname:
        assert c.put(f"{API}/profile/{c.user_id}/displayname", {"displayname": displayname}).status_code == 200
    return c


def test_only_users_sharing_a_room_or_in_public_rooms(alice):
    carol = user("carol", "Carol Danvers")
    dave = user("dave", "Dave Lister")
    erin = user("erin", "Erin Stranger")
    assert ids(search(alice, "carol")) == []
    private = create_room(alice, preset="private_chat", invite=[carol.user_id])
    assert carol.post(f"{API}/rooms/{private}/join", {}).status_code == 200
    public = create_room(erin, preset="public_chat")  # nobody else in it, but public
    readable = create_room(dave, preset="private_chat", initial_state=[
        {"type": "m.room.history_visibility", "state_key": "", "content": {"history_visibility": "world_readable"}}])
    assert public and readable
    assert ids(search(alice, "carol")) == [carol.user_id]
    assert ids(search(alice, "STRANGER")) == [erin.user_id]  # display name, any case
    assert ids(search(alice, "lister")) == [dave.user_id]
    body = search(alice, "danvers")
    assert body == {"limited": False, "results": [{"user_id": carol.user_id, "display_name": "Carol Danvers"}]}


def test_search_all_users(alice, settings):
    frank = user("frank", "Frank Lonely")
    assert ids(search(alice, "frank")) == []
    settings.HS = settings.HS.replace(user_directory=settings.HS.user_directory.__class__(search_all_users=True))
    assert ids(search(alice, "lonely")) == [frank.user_id]


def test_limit_limited_and_ranking(alice):
    room = create_room(alice, preset="public_chat")
    for i in range(4):
        c = user(f"member{i}", f"Member {i}")
        assert c.post(f"{API}/rooms/{room}/join", {}).status_code == 200
    body = search(alice, "member", limit=2)
    assert body["limited"] is True and len(body["results"]) == 2
    body = search(alice, "member")
    assert body["limited"] is False and len(body["results"]) == 4
    assert ids(search(alice, "member 3"))[0] == "@member3:test.local"
    assert search(alice, "member", limit=0) == {"limited": False, "results": []}


def test_deactivated_users_are_not_found(alice):
    gina = user("gina", "Gina Gone")
    room = create_room(alice, preset="public_chat")
    assert gina.post(f"{API}/rooms/{room}/join", {}).status_code == 200
    assert ids(search(alice, "gina")) == [gina.user_id]
    from apps.accounts.models import User
    User.objects.filter(localpart="gina").update(deactivated=True)
    assert ids(search(alice, "gina")) == []


def test_disabled_directory_finds_nobody(alice, settings):
    create_room(alice, preset="public_chat")
    assert ids(search(alice, "alice")) == [alice.user_id]
    settings.HS = settings.HS.replace(user_directory=settings.HS.user_directory.__class__(enabled=False))
    assert search(alice, "alice") == {"limited": False, "results": []}


def test_bad_bodies(alice, mx):
    url = f"{API}/user_directory/search"
    assert_error(alice.post(url, {}), 400, "M_MISSING_PARAM")
    assert_error(alice.post(url, {"search_term": 3}), 400, "M_BAD_JSON")
    assert_error(alice.post(url, {"search_term": "a", "limit": -1}), 400, "M_BAD_JSON")
    assert_error(alice.post(url, {"search_term": "a", "limit": "5"}), 400, "M_BAD_JSON")
    assert_error(alice.post(url, raw=b"nope"), 400, "M_NOT_JSON")
    assert_error(mx.post(url, {"search_term": "a"}, token=None), 401, "M_MISSING_TOKEN")


def test_query_count_is_bounded(alice, django_assert_max_num_queries):
    room = create_room(alice, preset="public_chat")
    for i in range(6):
        c = user(f"q{i}", f"Query {i}")
        assert c.post(f"{API}/rooms/{room}/join", {}).status_code == 200
    with django_assert_max_num_queries(8):
        assert len(search(alice, "query")["results"]) == 6
