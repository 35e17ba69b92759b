"""queryRoomDirectory, queryProfile, getPublicRooms / queryPublicRooms (allow_public_rooms_over_federation),
and the third-party invite endpoints this server refuses cleanly."""
from __future__ import annotations

import pytest

from tests.api.federation.remote import FED, FakeRemote, q
from tests.api.rooms.helpers import API, create_room
from tests.conftest import assert_error


@pytest.fixture
def remote(db):
    return FakeRemote("remote.test")


def test_query_directory(alice, remote):
    room_id = create_room(alice, preset="public_chat", room_alias_name="lobby")
    resp = remote.get(f"{FED}/v1/query/directory", query={"room_alias": "#lobby:test.local"})
    assert resp.status_code == 200, resp.json_body
    assert resp.json_body == {"room_id": room_id, "servers": ["test.local"]}
    remote.join(room_id, remote.user("bob"))
    resp = remote.get(f"{FED}/v1/query/directory", query={"room_alias": "#lobby:test.local"})
    assert resp.json_body["servers"] == ["test.local", "remote.test"]
    assert_error(remote.get(f"{FED}/v1/query/directory", query={"room_alias": "#nope:test.local"}), 404,
                 "M_NOT_FOUND")
    assert_error(remote.get(f"{FED}/v1/query/directory", query={"room_alias": "#lobby:remote.test"}), 404,
                 "M_NOT_FOUND")
    assert_error(remote.get(f"{FED}/v1/query/directory"), 400, "M_MISSING_PARAM")
    assert_error(remote.get(f"{FED}/v1/query/directory", query={"room_alias": "#lobby:test.local"}, sign=False),
                 401, "M_UNAUTHORIZED")


def test_query_profile(alice, remote):
    assert alice.put(f"{API}/profile/{alice.user_id}/displayname", {"displayname": "Alice"}).status_code == 200
    resp = remote.get(f"{FED}/v1/query/profile", query={"user_id": alice.user_id})
    assert resp.status_code == 200 and resp.json_body == {"displayname": "Alice"}
    resp = remote.get(f"{FED}/v1/query/profile", query={"user_id": alice.user_id, "field": "displayname"})
    assert resp.json_body == {"displayname": "Alice"}
    assert_error(remote.get(f"{FED}/v1/query/profile", query={"user_id": alice.user_id, "field": "avatar_url"}),
                 404, "M_NOT_FOUND")
    assert_error(remote.get(f"{FED}/v1/query/profile", query={"user_id": "@nobody:test.local"}), 404, "M_NOT_FOUND")
    assert_error(remote.get(f"{FED}/v1/query/profile", query={"user_id": "@bob:remote.test"}), 400,
                 "M_INVALID_PARAM")
    assert_error(remote.get(f"{FED}/v1/query/profile", query={"user_id": alice.user_id, "field": "m.tz"}), 400,
                 "M_INVALID_PARAM")
    assert_error(remote.get(f"{FED}/v1/query/profile"), 400, "M_MISSING_PARAM")


def test_public_rooms_off_by_default(alice, remote):
    create_room(alice, preset="public_chat", visibility="public", name="Listed")
    assert_error(remote.get(f"{FED}/v1/publicRooms"), 403, "M_FORBIDDEN")
    assert_error(remote.post(f"{FED}/v1/publicRooms", {}), 403, "M_FORBIDDEN")


def test_public_rooms_when_allowed(alice, remote, settings):
    settings.HS = settings.HS.replace(allow_public_rooms_over_federation=True)
    listed = create_room(alice, preset="public_chat", visibility="public", name="Listed")
    create_room(alice, preset="public_chat", name="Unlisted")
    resp = remote.get(f"{FED}/v1/publicRooms", query={"limit": 10})
    assert resp.status_code == 200, resp.json_body
    assert [r["room_id"] for r in resp.json_body["chunk"]] == [listed]
    assert resp.json_body["chunk"][0]["name"] == "Listed"
    found = remote.post(f"{FED}/v1/publicRooms", {"filter": {"generic_search_term": "list"}, "limit": 5})
    assert [r["room_id"] for r in found.json_body["chunk"]] == [listed]
    none = remote.post(f"{FED}/v1/publicRooms", {"filter": {"generic_search_term": "nothing like it"}})
    assert none.json_body["chunk"] == []
    assert_error(remote.post(f"{FED}/v1/publicRooms", {"limit": "ten"}), 400, "M_BAD_JSON")
    assert_error(remote.get(f"{FED}/v1/publicRooms", query={"include_all_networks": "maybe"}), 400,
                 "M_INVALID_PARAM")


def test_third_party_invites_are_refused_cleanly(alice, remote):
    room_id = create_room(alice, preset="public_chat")
    assert_error(remote.put(f"{FED}/v1/exchange_third_party_invite/{q(room_id)}", {"type": "m.room.member"}),
                 403, "M_UNRECOGNIZED")
    assert_error(remote.put(f"{FED}/v1/3pid/onbind", {"address": "a@b.c", "medium": "email", "invites": []}),
                 403, "M_UNRECOGNIZED")
    assert_error(remote.put(f"{FED}/v1/3pid/onbind", {}, sign=False), 401, "M_UNAUTHORIZED")
