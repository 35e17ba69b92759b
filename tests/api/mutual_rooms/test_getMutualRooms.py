"""GET /_matrix/client/v1/mutual_rooms (getMutualRooms): the rooms where the requester and `user_id`
are both joined, with the total `count` and an opaque `next_batch` token."""
from __future__ import annotations

from urllib.parse import urlencode

import pytest

from apps.mutual_rooms import handlers
from tests.api.federation.remote import FakeRemote
from tests.api.rooms.helpers import API, create_room
from tests.conftest import assert_error

PATH = "/_matrix/client/v1/mutual_rooms"


def mutual(client, **params):
    return client.get(f"{PATH}?{urlencode(params)}" if params else PATH)


def join(client, room_id: str):
    assert client.post(f"{API}/rooms/{room_id}/join", {}).status_code == 200


def test_rooms_both_users_are_joined_to(alice, bob):
    shared = sorted(create_room(alice, preset="public_chat") for _ in range(2))
    for room_id in shared:
        join(bob, room_id)
    invited = create_room(alice, preset="private_chat")
    assert alice.post(f"{API}/rooms/{invited}/invite", {"user_id": bob.user_id}).status_code == 200
    left = create_room(alice, preset="public_chat")
    join(bob, left)
    assert bob.post(f"{API}/rooms/{left}/leave", {}).status_code == 200
    create_room(alice, preset="public_chat")  # alice alone

    resp = mutual(alice, user_id=bob.user_id)
    assert resp.status_code == 200, resp.json_body
    assert resp.json_body == {"joined": shared, "count": 2}
    assert mutual(bob, user_id=alice.user_id).json_body == {"joined": shared, "count": 2}


def test_unknown_users_share_nothing(alice):
    assert mutual(alice, user_id="@nobody:test.local").json_body == {"joined": [], "count": 0}
    assert mutual(alice, user_id="@someone:elsewhere.example").json_body == {"joined": [], "count": 0}


def test_remote_users_count(alice, db):
    room_id = create_room(alice, preset="public_chat")
    remote = FakeRemote("remote.test")
    remote.join(room_id, remote.user("carol"))
    assert mutual(alice, user_id=remote.user("carol")).json_body == {"joined": [room_id], "count": 1}


def test_pagination(alice, bob, monkeypatch):
    monkeypatch.setattr(handlers, "BATCH_SIZE", 2)
    shared = sorted(create_room(alice, preset="public_chat") for _ in range(5))
    for room_id in shared:
        join(bob, room_id)
    pages, token = [], None
    while True:
        body = mutual(alice, user_id=bob.user_id, **({"from": token} if token else {})).json_body
        assert body["count"] == 5
        pages.append(body["joined"])
        token = body.get("next_batch")
        if token is None:
            break
    assert pages == [shared[:2], shared[2:4], shared[4:]]

    first = mutual(alice, user_id=bob.user_id).json_body["next_batch"]
    # A token belongs to the user_id it was made for.
    assert_error(mutual(alice, user_id="@nobody:test.local", **{"from": first}), 400, "M_INVALID_PARAM")
    assert_error(mutual(alice, user_id=bob.user_id, **{"from": "garbage"}), 400, "M_INVALID_PARAM")
    assert_error(mutual(alice, user_id=bob.user_id, **{"from": "mr1.e30"}), 400, "M_INVALID_PARAM")


@pytest.mark.parametrize("user_id", ["bob", "@:test.local", "@bob", "@bob:", "@bo b:test.local", "#room:test.local"])
def test_invalid_user_ids(alice, user_id):
    assert_error(mutual(alice, user_id=user_id), 400, "M_INVALID_PARAM")


def test_errors(alice, mx):
    assert_error(mutual(alice), 400, "M_MISSING_PARAM")
    assert_error(mutual(alice, user_id=alice.user_id), 400, "M_INVALID_PARAM")
    assert_error(mutual(mx, user_id=alice.user_id), 401, "M_MISSING_TOKEN")
    assert_error(alice.post(f"{PATH}?user_id=%40bob%3Atest.local", {}), 405, "M_UNRECOGNIZED")


def test_query_count_does_not_grow_with_rooms(alice, bob):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(2):
        join(bob, create_room(alice, preset="public_chat"))
    with CaptureQueriesContext(connection) as small:
        assert mutual(alice, user_id=bob.user_id).json_body["count"] == 2
    for _ in range(4):
        join(bob, create_room(alice, preset="public_chat"))
    with CaptureQueriesContext(connection) as big:
        assert mutual(alice, user_id=bob.user_id).json_body["count"] == 6
    assert len(big) == len(small)
