"""/sync is a hot path (DESIGN section 3): its queries grow with the rooms that changed, by a bounded
number per room, never with the room's history. Counted on the handler, in the test's thread."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.auth import authenticate_token
from apps.streams import replication
from apps.sync import handlers
from apps.sync.filters import SyncFilter
from tests.api.rooms.helpers import create_room, send

pytestmark = pytest.mark.django_db(transaction=True)

PER_ROOM = 12


def _queries(client, since=None) -> int:
    requester = authenticate_token(client.token)
    state = replication.get_state()
    params = handlers.SyncParams(filter=SyncFilter(), since=since)
    with CaptureQueriesContext(connection) as ctx:
        handlers.sync_once(requester, params, state, want_keys=True)
    return len(ctx.captured_queries)


def test_initial_sync_queries_grow_by_a_bounded_amount_per_room(alice):
    for _ in range(2):
        send(alice, create_room(alice))
    two = _queries(alice)
    for _ in range(3):
        room = create_room(alice)
        for i in range(15):  # history does not matter
            send(alice, room, {"body": str(i)})
    five = _queries(alice)
    assert five - two <= 3 * PER_ROOM, (two, five)


def test_incremental_sync_without_news_is_a_few_queries(alice):
    for _ in range(5):
        create_room(alice)
    token = handlers.current_token(replication.get_state())
    assert _queries(alice, since=token) <= 2
