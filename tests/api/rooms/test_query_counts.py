"""Hot paths have bounded query counts (DESIGN.md 3): sending, reading state."""
from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api.rooms.helpers import API, create_room, send

# Includes the in-transaction hooks of derived rows (one savepoint, push actions' member lookup and rows).
SEND_MAX = 29
STATE_MAX = 8


def _fill(alice, room_id, n=20):
    for i in range(n):
        alice.put(f"{API}/rooms/{room_id}/state/org.example.s/{i}", {"i": i})


def test_send_query_count_does_not_grow_with_the_room(alice, django_assert_max_num_queries):
    room_id = create_room(alice, preset="public_chat")
    send(alice, room_id)
    with CaptureQueriesContext(connection) as small:
        assert send(alice, room_id).status_code == 200
    _fill(alice, room_id)
    for _ in range(5):
        send(alice, room_id)
    with django_assert_max_num_queries(SEND_MAX):
        assert send(alice, room_id).status_code == 200
    with CaptureQueriesContext(connection) as big:
        assert send(alice, room_id).status_code == 200
    assert len(big) == len(small), [q["sql"] for q in big.captured_queries]


def test_state_event_send_query_count(alice, django_assert_max_num_queries):
    room_id = create_room(alice, preset="public_chat")
    _fill(alice, room_id)
    # + a savepoint per in-transaction persister hook (relations index)
    with django_assert_max_num_queries(SEND_MAX + 7):
        assert alice.put(f"{API}/rooms/{room_id}/state/m.room.topic", {"topic": "t"}).status_code == 200


def test_get_state_query_count(alice, django_assert_max_num_queries):
    room_id = create_room(alice, preset="public_chat")
    _fill(alice, room_id, 30)
    with django_assert_max_num_queries(STATE_MAX):
        resp = alice.get(f"{API}/rooms/{room_id}/state")
    assert len(resp.json_body) > 30
    with django_assert_max_num_queries(STATE_MAX):
        assert alice.get(f"{API}/rooms/{room_id}/state/m.room.create").status_code == 200
