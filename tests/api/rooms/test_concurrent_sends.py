"""Concurrent requests on one room, with real commits: every send lands once with its own stream
position, forks made by racing senders are merged by the next event, and a transaction id raced
by two requests names one event. PostgreSQL only: the fast tier's shared-cache in-memory SQLite
database reports "table is locked" to concurrent writers instead of waiting."""
from __future__ import annotations

import os
import threading

import pytest
from django.db import connection

from apps.rooms.models import EventRow, ForwardExtremity
from tests.api.rooms.helpers import API, create_room, send
from tests.conftest import MatrixClient

pytestmark = [
    pytest.mark.services,
    pytest.mark.skipif(os.environ.get("HS_TEST_TIER", "fast") != "services", reason="needs PostgreSQL"),
]


def _run_threads(n, target):
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def run(i):
        try:
            barrier.wait()
            target(i)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors


def _clone(client):
    c = MatrixClient()
    c.token, c.user_id, c.device_id = client.token, client.user_id, client.device_id
    return c


@pytest.mark.django_db(transaction=True)
def test_racing_senders_all_land_and_forks_merge():
    alice = MatrixClient()
    alice.register("alice")
    room_id = create_room(alice, preset="public_chat")
    sent: list[str] = []
    lock = threading.Lock()

    def sender(i):
        c = _clone(alice)
        for j in range(3):
            resp = send(c, room_id, {"body": f"{i}.{j}"})
            assert resp.status_code == 200, resp.json_body
            with lock:
                sent.append(resp.json_body["event_id"])

    _run_threads(6, sender)
    assert len(set(sent)) == 18
    positions = list(EventRow.objects.filter(event_id__in=sent).values_list("stream_ordering", flat=True))
    assert len(set(positions)) == 18 and None not in positions
    last = send(alice, room_id).json_body["event_id"]
    assert list(ForwardExtremity.objects.filter(room_id=room_id).values_list("event_id", flat=True)) == [last]
    assert alice.get(f"{API}/rooms/{room_id}/state/m.room.join_rules").json_body == {"join_rule": "public"}


@pytest.mark.django_db(transaction=True)
def test_racing_same_txn_id_gives_one_event():
    alice = MatrixClient()
    alice.register("alice")
    room_id = create_room(alice)
    ids: list[str] = []

    def sender(i):
        resp = send(_clone(alice), room_id, {"body": "once"}, txn_id="dup")
        assert resp.status_code == 200, resp.json_body
        ids.append(resp.json_body["event_id"])

    _run_threads(4, sender)
    assert len(set(ids)) == 1
    assert EventRow.objects.filter(room_id=room_id, type="m.room.message").count() == 1
