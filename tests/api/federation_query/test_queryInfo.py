"""GET /_matrix/federation/v1/query/{queryType} (queryInfo): the generic query. The known types keep
their own operations (queryProfile, queryRoomDirectory); any other type is 404 M_UNRECOGNIZED, and
only after the request's signature is checked."""
from __future__ import annotations

import pytest
from django.test import RequestFactory

from apps.federation import views_query
from hsproject import routing
from tests.api.federation.remote import FED, FakeRemote
from tests.api.rooms.helpers import API, create_room
from tests.conftest import assert_error


@pytest.fixture
def remote(db):
    return FakeRemote("remote.test")


def test_unknown_query_types_are_unrecognized(remote):
    for query_type in ("client", "user_devices", "PROFILE"):
        assert_error(remote.get(f"{FED}/v1/query/{query_type}", query={"user_id": "@a:test.local"}), 404,
                     "M_UNRECOGNIZED")
    assert_error(remote.get(f"{FED}/v1/query/client", sign=False), 401, "M_UNAUTHORIZED")
    assert_error(remote.request("PUT", f"{FED}/v1/query/client", {}), 405, "M_UNRECOGNIZED")


def test_known_query_types_keep_their_operations(alice, remote):
    assert routing.match(f"{FED}/v1/query/profile", "GET")[1].operation_id == "queryProfile"
    assert routing.match(f"{FED}/v1/query/directory", "GET")[1].operation_id == "queryRoomDirectory"
    assert routing.match(f"{FED}/v1/query/client", "GET")[1] is views_query.QueryInfoView
    assert alice.put(f"{API}/profile/{alice.user_id}/displayname", {"displayname": "Alice"}).status_code == 200
    resp = remote.get(f"{FED}/v1/query/profile", query={"user_id": alice.user_id})
    assert resp.status_code == 200 and resp.json_body == {"displayname": "Alice"}


def test_the_generic_view_serves_known_types_too(alice):
    """Whatever the order of the routing rows, a known type reaching the generic view is answered by its
    own view."""
    room_id = create_room(alice, preset="public_chat", room_alias_name="hall")
    assert alice.put(f"{API}/profile/{alice.user_id}/displayname", {"displayname": "Alice"}).status_code == 200
    factory = RequestFactory()
    view = views_query.QueryInfoView()
    profile = view.handle_federation(factory.get("/", {"user_id": alice.user_id}), "remote.test",
                                     query_type="profile")
    assert profile == {"displayname": "Alice"}
    directory = view.handle_federation(factory.get("/", {"room_alias": "#hall:test.local"}), "remote.test",
                                       query_type="directory")
    assert directory["room_id"] == room_id
