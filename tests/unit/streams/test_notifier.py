"""The notifier wakes exactly the waiters a change concerns, from any thread, and times out otherwise."""
import asyncio
import threading
import time

from apps.streams.notifier import Notifier, keys_for, replication_listener


def run(coro):
    return asyncio.run(coro)


def test_wakes_the_waiter_of_the_room_and_not_the_others():
    n = Notifier()

    async def main():
        in_room = asyncio.create_task(n.wait_for_change(keys_for(["@a:x"], ["!r:x"]), {"events": 5}, 2))
        other_room = asyncio.create_task(n.wait_for_change(keys_for(["@b:x"], ["!s:x"]), {"events": 5}, 0.3))
        await asyncio.sleep(0.01)
        assert n.waiter_count == 2
        assert n.notify("events", 6, room_ids=["!r:x"]) == 1
        assert await in_room == frozenset({"events"})
        assert await other_room == frozenset()        # timed out
        assert n.waiter_count == 0                    # both cleaned up
    run(main())


def test_a_position_not_past_since_does_not_wake():
    n = Notifier()

    async def main():
        w = asyncio.create_task(n.wait_for_change(keys_for(["@a:x"]), {"typing": 10}, 0.2))
        await asyncio.sleep(0.01)
        assert n.notify("typing", 10, user_ids=["@a:x"]) == 0
        assert await w == frozenset()
    run(main())


def test_device_keys_wake_only_that_device():
    n = Notifier()

    async def main():
        d1 = asyncio.create_task(n.wait_for_change(keys_for(devices=[("@a:x", "D1")]), {}, 2))
        d2 = asyncio.create_task(n.wait_for_change(keys_for(devices=[("@a:x", "D2")]), {}, 0.2))
        await asyncio.sleep(0.01)
        n.notify("to_device", 1, devices=[("@a:x", "D1")])
        assert await d1 == frozenset({"to_device"})
        assert await d2 == frozenset()
    run(main())


def test_a_change_before_the_wait_began_returns_at_once():
    """The lost wake-up: the change lands between computing the since-token and starting to wait."""
    n = Notifier()
    n.notify("receipts", 3, room_ids=["!r:x"])

    async def main():
        t0 = time.monotonic()
        got = await n.wait_for_change(keys_for(room_ids=["!r:x"]), {"receipts": 2}, 5)
        assert got == frozenset({"receipts"}) and time.monotonic() - t0 < 0.5
        assert await n.wait_for_change(keys_for(room_ids=["!r:x"]), {"receipts": 3}, 0.05) == frozenset()
    run(main())


def test_notify_from_another_thread():
    n = Notifier()

    async def main():
        w = asyncio.create_task(n.wait_for_change(keys_for(["@a:x"]), {}, 2))
        await asyncio.sleep(0.01)
        t = threading.Thread(target=n.notify, args=("account_data", 1), kwargs={"user_ids": ["@a:x"]})
        t.start()
        assert await w == frozenset({"account_data"})
        t.join()
    run(main())


def test_thousands_of_idle_waiters_and_one_wake():
    n = Notifier()

    async def main():
        waiters = [asyncio.create_task(n.wait_for_change(keys_for([f"@u{i}:x"], [f"!r{i % 50}:x"]), {"events": 0}, 3))
                   for i in range(5000)]
        await asyncio.sleep(0.05)
        assert n.waiter_count == 5000
        assert threading.active_count() < 20
        t0 = time.monotonic()
        assert n.notify("events", 1, room_ids=["!r7:x"]) == 100
        await asyncio.sleep(0.05)
        done = [w for w in waiters if w.done()]
        assert len(done) == 100 and time.monotonic() - t0 < 1
        n.notify_all("events", 2)
        results = await asyncio.gather(*waiters)
        assert all(r == frozenset({"events"}) for r in results)
        assert n.waiter_count == 0
    run(main())


def test_replication_listener_maps_rows_to_keys():
    n = Notifier()
    listen = replication_listener(n)

    async def main():
        room = asyncio.create_task(n.wait_for_change(keys_for(room_ids=["!r:x"]), {"receipts": 0}, 2))
        anyone = asyncio.create_task(n.wait_for_change(keys_for(["@z:x"]), {"presence": 0}, 2))
        await asyncio.sleep(0.01)
        listen("receipts", "main", 4, [(4, {"room_id": "!r:x", "user_id": "@a:x"})])
        listen("presence", "main", 9, None)   # catch-up without rows: everyone of that stream
        assert "receipts" in await room        # (presence too: notify_all concerns everyone)
        assert await anyone == frozenset({"presence"})
    run(main())


def test_a_cancelled_waiter_is_forgotten():
    n = Notifier()

    async def main():
        w = asyncio.create_task(n.wait_for_change(keys_for(["@a:x"]), {}, 10))
        await asyncio.sleep(0.01)
        w.cancel()
        await asyncio.sleep(0.01)
        assert n.waiter_count == 0
        assert n.notify("events", 1, user_ids=["@a:x"]) == 0
    run(main())


def test_remembered_positions_are_bounded_and_a_forgotten_key_still_wakes():
    n = Notifier(max_keys=3)
    for i in range(1, 11):
        n.notify("events", i, room_ids=[f"!r{i}:x"])
    assert n.remembered_keys == 3  # the 3 most recently notified rooms, not all 10

    async def main():
        # !r2 was forgotten after its change at 2: a waiter from before that change is still woken at once
        # (the floor of forgotten keys is 7, the last position forgotten).
        assert await n.wait_for_change(keys_for(room_ids=["!r2:x"]), {"events": 1}, 1) == frozenset({"events"})
        # A waiter already past everything forgotten waits as usual, and is woken by a new change.
        w = asyncio.create_task(n.wait_for_change(keys_for(room_ids=["!r2:x"]), {"events": 10}, 2))
        await asyncio.sleep(0.01)
        assert not w.done()
        n.notify("events", 11, room_ids=["!r2:x"])
        assert await w == frozenset({"events"})
        # And one remembered key: nothing spurious below its own position.
        assert await n.wait_for_change(keys_for(room_ids=["!r10:x"]), {"events": 11}, 0.1) == frozenset()
    run(main())
    assert n.remembered_keys == 3


def test_memory_stays_bounded_under_many_keys():
    n = Notifier(max_keys=1000)
    for i in range(20_000):
        n.notify("typing", i + 1, user_ids=[f"@u{i}:x"], room_ids=[f"!r{i % 50}:x"])
    assert n.remembered_keys == 1000
