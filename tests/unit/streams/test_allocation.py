"""The position allocator: inside the writing transaction, increasing and unique, on both tiers."""
import threading

import pytest
from django.db import connection, transaction

from apps.streams import stores
from apps.streams.models import StreamPosition


def test_positions_increase_inside_a_transaction(db):
    with transaction.atomic():
        got = [stores.next_position("typing") for _ in range(20)]
    assert got == sorted(got) and len(set(got)) == 20


def test_highest_allocated_follows_the_allocator(db):
    with transaction.atomic():
        p = stores.next_position("receipts")
        assert stores.highest_allocated("receipts") == p


def test_floor_keeps_positions_above_what_the_process_has_seen(db):
    with transaction.atomic():
        p = stores.next_position("presence", floor=10_000)
    assert p > 10_000 if connection.vendor == "sqlite" else p >= 1


def test_unknown_stream_never_reaches_sql(db):
    with pytest.raises(KeyError):
        stores.next_position("events'); DROP TABLE stream_positions; --")


def test_writer_position_upsert_never_goes_back(db):
    stores.upsert_writer_position("typing", "main", 5)
    stores.upsert_writer_position("typing", "main", 3)
    stores.upsert_writer_position("typing", "other", 1)
    assert stores.writer_positions("typing") == {"typing": {"main": 5, "other": 1}}
    assert StreamPosition.objects.filter(stream="typing").count() == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_get_unique_positions():
    """Several threads (connections) allocating in their own transactions never share a position."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's shared-cache test database has no busy wait; SQLite serialises writers anyway")
    got: list[int] = []
    lock = threading.Lock()
    errors = []

    def writer():
        try:
            for _ in range(10):
                with transaction.atomic():
                    p = stores.next_position("events")
                with lock:
                    got.append(p)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(got) == 40 and len(set(got)) == 40
