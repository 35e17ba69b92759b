"""/sync with account data and to-device messages stays a bounded number of queries: one read for the
account data rows however many changed, none when the streams did not move."""
from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.auth import authenticate_token
from apps.streams import replication
from apps.sync import handlers
from apps.sync.filters import SyncFilter
from tests.api.rooms.helpers import create_room
from tests.api.sync.helpers import API

pytestmark = pytest.mark.django_db(transaction=True)


def _queries(client, since=None) -> tuple[int, dict]:
    requester = authenticate_token(client.token)
    params = handlers.SyncParams(filter=SyncFilter(), since=since)
    with CaptureQueriesContext(connection) as ctx:
        response, _, _ = handlers.sync_once(requester, params, replication.get_state(), want_keys=True)
    return len(ctx.captured_queries), response


def _token():
    return handlers.current_token(replication.get_state())


def _put_room_data(client, rooms, n):
    for i in range(n):
        for room_id in rooms:
            client.put(f"{API}/user/{client.user_id}/rooms/{room_id}/account_data/org.example.{i}", {"i": i})
        client.put(f"{API}/user/{client.user_id}/account_data/org.example.{i}", {"i": i})


def test_account_data_rows_cost_one_query_however_many(alice):
    rooms = [create_room(alice) for _ in range(3)]
    since = _token()
    _put_room_data(alice, rooms, 1)
    few, body = _queries(alice, since)
    assert len(body["account_data"]["events"]) == 1
    since = _token()
    _put_room_data(alice, rooms, 8)
    many, body = _queries(alice, since)
    assert len(body["account_data"]["events"]) == 8
    assert all(len(body["rooms"]["join"][r]["account_data"]["events"]) == 8 for r in rooms)
    assert many == few, (few, many)


def test_nothing_moved_costs_no_account_data_or_to_device_query(alice, bob):
    alice.put(f"{API}/user/{alice.user_id}/account_data/org.example.a", {})
    alice.put(f"{API}/sendToDevice/org.example/{uuid.uuid4().hex}", {"messages": {bob.user_id: {"*": {}}}})
    queries, _ = _queries(alice, _token())
    assert queries <= 2


def test_to_device_delivery_is_bounded(alice, bob):
    since = _token()
    for _ in range(30):
        alice.put(f"{API}/sendToDevice/org.example/{uuid.uuid4().hex}", {"messages": {bob.user_id: {"*": {}}}})
    queries, body = _queries(bob, since)
    assert len(body["to_device"]["events"]) == 30
    assert queries <= 6, queries


def test_other_users_writes_cost_no_query(alice, bob):
    create_room(alice)
    since = _token()
    _queries(alice, since)  # this process now records whose rows the streams carry
    since = _token()
    for i in range(3):
        bob.put(f"{API}/user/{bob.user_id}/account_data/org.example.{i}", {})
        bob.put(f"{API}/sendToDevice/org.example/{uuid.uuid4().hex}", {"messages": {bob.user_id: {"*": {}}}})
    queries, body = _queries(alice, since)
    assert body["account_data"]["events"] == [] and body["to_device"]["events"] == []
    assert queries <= 2, queries
    # Bob's own sync still finds his.
    _, body = _queries(bob, since)
    assert len(body["account_data"]["events"]) == 3 and len(body["to_device"]["events"]) == 3
