"""The in-process transport delivers every message to every subscriber, in order."""
from apps.streams.transport.base import Message
from apps.streams.transport.inproc import InProcBus, InProcTransport


def test_delivers_to_every_subscriber_in_order():
    bus = InProcBus()
    a, b = InProcTransport(bus), InProcTransport(bus)
    got_a, got_b, resyncs = [], [], []
    a.subscribe(got_a.append, on_resync=lambda: resyncs.append("a"))
    b.subscribe(got_b.append)
    msgs = [Message("typing", "main", i, i - 1, ((i, {"n": i}),), "o") for i in range(1, 4)]
    for m in msgs:
        assert a.publish(m)
    assert got_a == got_b == msgs
    assert resyncs == ["a"]     # subscribing is a (re)connect: the receiver compares with the database


def test_a_failing_subscriber_does_not_stop_the_others():
    bus = InProcBus()
    t = InProcTransport(bus)
    got = []

    def broken(m):
        raise RuntimeError("boom")
    t.subscribe(broken)
    t.subscribe(got.append)
    m = Message("typing", "main", 1)
    assert t.publish(m) and got == [m]


def test_paused_bus_drops_like_a_redis_outage_and_stop_unsubscribes():
    bus = InProcBus()
    t = InProcTransport(bus)
    got = []
    t.subscribe(got.append)
    bus.paused = True
    assert not t.publish(Message("typing", "main", 1))
    bus.paused = False
    t.stop()
    t.publish(Message("typing", "main", 2))
    assert got == [] and len(bus.dropped) == 1


def test_message_json_round_trip():
    m = Message("events", "p1", 7, 5, ((6, {"event_id": "$a"}), (7, {"event_id": "$b"})), "origin")
    assert Message.from_json(m.to_json()) == m
