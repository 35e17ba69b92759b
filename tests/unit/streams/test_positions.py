"""Multi-writer positions: a reader never skips a position a slower writer commits later."""
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.streams.positions import StreamPositions, WriterPositions


def test_current_waits_for_the_lowest_in_flight_position():
    w = WriterPositions()
    w.started(1)
    w.started(2)
    w.started(3)
    assert w.finished(3) == 0
    assert w.finished(1) == 1
    assert w.finished(2) == 3


def test_positions_must_move_forward():
    w = WriterPositions(current=5)
    with pytest.raises(ValueError):
        w.started(5)


def test_two_writers_out_of_order_never_let_a_reader_skip():
    stream = StreamPositions(writers=("persister1", "persister2"))
    a, b = WriterPositions(), WriterPositions()
    a.started(7)   # persister1 takes 7 from the shared sequence ...
    b.started(8)   # ... persister2 takes 8 and commits first
    stream.advance("persister2", b.finished(8))
    assert stream.persisted_up_to() == 0   # 7 is not committed: a reader must not pass it
    stream.advance("persister1", a.finished(7))
    assert stream.persisted_up_to() == 7
    # persister1 is idle: it may claim up to the highest allocated position.
    stream.advance("persister1", a.idle_advance(8))
    assert stream.persisted_up_to() == 8


def test_idle_advance_does_not_pass_in_flight_work():
    w = WriterPositions()
    w.started(4)
    assert w.idle_advance(10) == 0
    w.finished(4)
    assert w.idle_advance(10) == 10


def test_positions_never_go_back():
    stream = StreamPositions(writers=("main",))
    assert stream.advance("main", 5)
    assert not stream.advance("main", 3)
    assert stream.current_for("main") == 5
    with pytest.raises(KeyError):
        stream.advance("stranger", 1)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=3), st.integers(min_value=1, max_value=40), st.randoms())
def test_persisted_up_to_only_covers_committed_positions(n_writers, n_events, rnd):
    """Random interleavings of allocation and commit across writers: at every step, every position at or
    below persisted_up_to() has been committed."""
    names = [f"w{i}" for i in range(n_writers)]
    writers = {n: WriterPositions() for n in names}
    stream = StreamPositions(writers=tuple(names))
    owner = {}
    for pos in range(1, n_events + 1):
        who = rnd.choice(names)
        owner[pos] = who
        writers[who].started(pos)
    pending = list(owner)
    rnd.shuffle(pending)
    committed: set[int] = set()
    for pos in pending:
        who = owner[pos]
        committed.add(pos)
        stream.advance(who, writers[who].finished(pos))
        for name in names:
            stream.advance(name, writers[name].idle_advance(max(committed)))
        upto = stream.persisted_up_to()
        assert all(p in committed for p in range(1, upto + 1))
    assert stream.persisted_up_to() == n_events
