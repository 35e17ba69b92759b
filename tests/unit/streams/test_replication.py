"""Writer side and reader side of replication, several simulated processes over one in-process bus."""
import gc

import pytest
from django.db import transaction

from apps.streams import replication
from apps.streams.models import StreamPosition
from apps.streams.replication import allocate_position, on_commit_publish
from apps.streams.transport.inproc import InProcTransport

from .conftest import Recorder

EVENTS2 = {"events": ("p1", "p2")}


def write(state, stream, rows, log=None):
    """One writing transaction (inside the test's transaction: its commit is the caller's to run)."""
    with transaction.atomic():
        pos = allocate_position(stream, state=state)
        if log is not None:
            log.add(pos, *rows)
        on_commit_publish(stream, pos, rows, state=state)
    return pos


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """write() and commit at once."""
    def run(state, stream, rows, log=None):
        with django_capture_on_commit_callbacks(execute=True):
            return write(state, stream, rows, log)
    return run


@pytest.mark.django_db(transaction=True)
def test_allocation_outside_a_transaction_is_refused(make_state):
    with pytest.raises(RuntimeError, match="inside the writing transaction"):
        allocate_position("typing", state=make_state("main"))


def test_allocation_needs_a_writer_and_publish_needs_an_allocation(db, make_state):
    main = make_state("main")
    worker = make_state("worker1")
    with transaction.atomic(), pytest.raises(RuntimeError, match="does not write"):
        allocate_position("typing", state=worker)
    with transaction.atomic(), pytest.raises(ValueError):
        on_commit_publish("typing", 999_999, [{}], state=main)


def test_commit_publishes_to_every_process(db, make_state, django_capture_on_commit_callbacks):
    main, worker = make_state("main"), make_state("worker1")
    seen_main, seen_worker = Recorder(), Recorder()
    main.add_listener(seen_main)
    worker.add_listener(seen_worker)
    with django_capture_on_commit_callbacks(execute=True):
        pos = write(main, "typing", [{"room_id": "!r:x", "user_ids": ["@a:x"]}])
    assert main.persisted_up_to("typing") == pos == worker.persisted_up_to("typing")
    assert seen_main.rows("typing") == seen_worker.rows("typing") == [(pos, {"room_id": "!r:x", "user_ids": ["@a:x"]})]
    assert StreamPosition.objects.get(stream="typing", instance="main").position == pos


def test_nothing_is_published_before_commit(db, make_state, django_capture_on_commit_callbacks):
    main, worker = make_state("main"), make_state("worker1")
    before = worker.persisted_up_to("typing")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        write(main, "typing", [{"room_id": "!r:x"}])
        assert worker.persisted_up_to("typing") == before == main.persisted_up_to("typing")
    assert len(callbacks) == 1
    callbacks[0]()
    assert worker.persisted_up_to("typing") > before


def test_out_of_order_commits_never_let_a_reader_skip(db, make_state, django_capture_on_commit_callbacks):
    """Two persisters: p1 takes the lower position, p2 commits first; nobody reads past p1's position
    until it commits, and rows reach listeners in position order."""
    p1, p2, reader = (make_state(n, EVENTS2) for n in ("p1", "p2", "reader"))
    seen = Recorder()
    reader.add_listener(seen)
    start = reader.persisted_up_to("events")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        a = write(p1, "events", [{"event_id": "$a", "room_id": "!r"}])
        b = write(p2, "events", [{"event_id": "$b", "room_id": "!s"}])
    assert a < b
    callbacks[1]()                    # p2 commits b first
    for st in (p1, p2, reader):
        assert st.persisted_up_to("events") < a, "a reader would skip a"
    assert seen.rows("events") == []  # b is held back
    callbacks[0]()                    # p1 commits a
    for st in (p1, p2, reader):
        assert st.persisted_up_to("events") == b
    assert [r["event_id"] for _, r in seen.rows("events")] == ["$a", "$b"]
    assert start < a


def test_rollback_releases_the_position(db, make_state, django_capture_on_commit_callbacks):
    main, worker = make_state("main"), make_state("worker1")
    seen = Recorder()
    worker.add_listener(seen)
    with django_capture_on_commit_callbacks(execute=True):
        first = write(main, "typing", [{"n": 1}])
    with pytest.raises(ZeroDivisionError):
        with transaction.atomic():
            lost = allocate_position("typing", state=main)
            on_commit_publish("typing", lost, [{"n": "lost"}], state=main)
            1 / 0
    gc.collect()
    # The rolled-back position does not hold the writer back ...
    assert main.writer_current("typing") == lost
    with django_capture_on_commit_callbacks(execute=True):
        third = write(main, "typing", [{"n": 3}])
    assert first < lost < third
    assert worker.persisted_up_to("typing") == third
    # ... and its rows were never delivered.
    assert [r["n"] for _, r in seen.rows("typing")] == [1, 3]


def test_rolled_back_position_alone_advances_readers(db, make_state):
    main, worker = make_state("main"), make_state("worker1")
    with pytest.raises(ZeroDivisionError):
        with transaction.atomic():
            lost = allocate_position("typing", state=main)
            1 / 0
    gc.collect()
    assert main.persisted_up_to("typing") == lost == worker.persisted_up_to("typing")


def test_a_lost_message_is_caught_up_from_the_database(db, make_state, bus, row_logs, commit):
    main, worker = make_state("main"), make_state("worker1")
    seen = Recorder()
    worker.add_listener(seen)
    log = row_logs["typing"]
    p1 = commit(main, "typing", [{"n": 1}], log)
    bus.paused = True             # Redis is down: these two messages are lost
    p2 = commit(main, "typing", [{"n": 2}], log)
    p3 = commit(main, "typing", [{"n": 3}], log)
    bus.paused = False
    assert worker.persisted_up_to("typing") == p1
    p4 = commit(main, "typing", [{"n": 4}], log)   # prev=p3 > p1: gap seen, catch up first
    assert worker.persisted_up_to("typing") == p4
    assert [(p, r["n"]) for p, r in seen.rows("typing")] == [(p1, 1), (p2, 2), (p3, 3), (p4, 4)]
    assert log.fetches == [(p1, p4)]   # the database already had p4: read once, delivered once


def test_resync_catches_up_without_any_later_message(db, make_state, bus, row_logs,
                                                     django_capture_on_commit_callbacks):
    main = make_state("main")
    worker_transport = InProcTransport(bus)
    worker = make_state("worker1", transport=worker_transport)
    seen = Recorder()
    worker.add_listener(seen)
    bus.paused = True
    with django_capture_on_commit_callbacks(execute=True):
        p1 = write(main, "typing", [{"n": 1}], row_logs["typing"])
        p2 = write(main, "typing", [{"n": 2}], row_logs["typing"])
    bus.paused = False
    assert worker.persisted_up_to("typing") < p1
    worker_transport.resync()      # what the Redis transport does on reconnect and periodically
    assert worker.persisted_up_to("typing") == p2
    assert [p for p, _ in seen.rows("typing")] == [p1, p2]


def test_catch_up_without_a_fetch_function_says_rows_are_unknown(db, make_state, bus,
                                                                 django_capture_on_commit_callbacks):
    from apps.streams import registry

    # The receipts app attaches a fetch function; this test is about a stream without one.
    s = registry.get("receipts")
    restore = registry._replace_for_tests(registry.Stream(s.name, s.writers_key, None, s.notify_keys))
    try:
        main, worker_transport = make_state("main"), InProcTransport(bus)
        worker = make_state("worker1", transport=worker_transport)
        seen = Recorder()
        worker.add_listener(seen)
        bus.paused = True
        with django_capture_on_commit_callbacks(execute=True):
            p = write(main, "receipts", [{"room_id": "!r"}])
        bus.paused = False
        worker_transport.resync()
        assert seen.calls == [("receipts", "", p, None)]
    finally:
        restore()


def test_a_new_process_starts_from_the_database(db, make_state, django_capture_on_commit_callbacks):
    main = make_state("main")
    with django_capture_on_commit_callbacks(execute=True):
        p = write(main, "typing", [{"n": 1}])
    late = make_state("worker2")
    assert late.persisted_up_to("typing") == p


def test_idle_persister_follows_the_busy_one(db, make_state, django_capture_on_commit_callbacks):
    """p2 never writes; it must not hold persisted_up_to back."""
    p1, p2, reader = (make_state(n, EVENTS2) for n in ("p1", "p2", "reader"))
    with django_capture_on_commit_callbacks(execute=True):
        a = write(p1, "events", [{"event_id": "$a"}])
        b = write(p1, "events", [{"event_id": "$b"}])
    for st in (p1, p2, reader):
        assert st.persisted_up_to("events") == b > a
    assert StreamPosition.objects.get(stream="events", instance="p2").position == b


def test_messages_from_unknown_writers_are_ignored(db, make_state):
    from apps.streams.transport.base import Message
    worker = make_state("worker1")
    worker.receive(Message("typing", "intruder", 10**6, 0, ((10**6, {}),), "x"))
    worker.receive(Message("nope", "main", 5, 0, (), "x"))
    assert worker.persisted_up_to("typing") < 10**6


def test_process_state_is_wired_to_the_notifier(db, django_capture_on_commit_callbacks):
    old = replication.set_state_for_tests(None)
    try:
        state = replication.get_state()
        assert state is replication.get_state()
        with django_capture_on_commit_callbacks(execute=True):
            pos = write(state, "typing", [{"room_id": "!r:x"}])
        assert replication.persisted_up_to("typing") == pos
        from apps.streams.notifier import get_notifier
        assert get_notifier()._latest[("room", "!r:x")]["typing"] == pos
    finally:
        new = replication.set_state_for_tests(old)
        if new is not None:
            new.stop()
