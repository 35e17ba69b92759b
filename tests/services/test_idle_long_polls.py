"""Idle long-polls cost no thread: 200 concurrent `/sync` and `/events` long-polls against one real server
process (gunicorn with one uvicorn worker, as deployed) leave its thread count small, and a message sent
then wakes the long-poll it concerns at once while the others stay parked.

Django's ASGI handler gives every request a thread of its own for thread-sensitive work (the
request_started signal's `close_old_connections`, the built-in middlewares) and keeps it until the request
ends; `apps.sync.asgi` serves the async routes' thread-sensitive work from a few shared threads instead.

Fast tier: embedded default (SQLite, in-process replication). Services tier: PostgreSQL and Redis.
"""
from __future__ import annotations

import asyncio
import time
from contextlib import ExitStack

import httpx
import pytest

from tests.live.servers import free_port, gunicorn_cmd, manage, running

from tests.services.support import (API, TIER, auth, base_config, gunicorn_workers, pg_database, pg_params, register,
                      thread_count, wait_for, write_config)

pytestmark = pytest.mark.live

LONG_POLLS = 200
# The worker's own threads (event loop, the loop's default pool of min(32, cpus + 4), the replication
# transport, the shared thread-sensitive executors) and some slack; one thread per long-poll would be 200+.
MAX_THREADS = 40


def _cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _settled(pid: int, quiet: float = 0.6) -> bool:
    """The process used no CPU for `quiet` seconds: every long-poll has been computed and is parked."""
    before = _cpu_ticks(pid)
    time.sleep(quiet)
    return _cpu_ticks(pid) == before


def _tier_config(stack: ExitStack, tmp_path, port: int) -> dict:
    config = base_config(tmp_path, port)
    if TIER == "services":
        import os
        database = stack.enter_context(pg_database("hs_idle"))
        config["database"] = {"name": "psycopg2", "args": {"database": database, **pg_params()}}
        config["redis"] = {"enabled": True, "host": "127.0.0.1",
                           "port": int(os.environ.get("HS_TEST_REDIS_PORT", "6379")),
                           "dbid": int(os.environ.get("HS_TEST_REDIS_DB", "12"))}
    return config


async def _long_polls(base: str, alice: dict, bob: dict, room_id: str, alice_since: str, bob_since: str,
                      worker_pid: int) -> dict:
    limits = httpx.Limits(max_connections=LONG_POLLS + 20, max_keepalive_connections=LONG_POLLS + 20)
    async with httpx.AsyncClient(base_url=base, timeout=90, limits=limits) as h:
        params = {"timeout": "60000"}
        # Bob (not in alice's room) holds most of them, on both endpoints; alice holds one of each.
        idle = [asyncio.create_task(h.get(f"{API}/sync", params={**params, "since": bob_since}, headers=auth(bob)))
                for _ in range(LONG_POLLS // 2 - 1)]
        idle += [asyncio.create_task(h.get(f"{API}/events", params={**params, "from": bob_since},
                                           headers=auth(bob))) for _ in range(LONG_POLLS // 2 - 1)]
        woken_sync = asyncio.create_task(h.get(f"{API}/sync", params={**params, "since": alice_since},
                                               headers=auth(alice)))
        woken_events = asyncio.create_task(h.get(f"{API}/events", params={**params, "from": alice_since},
                                                 headers=auth(alice)))
        everything = [*idle, woken_sync, woken_events]

        await asyncio.sleep(1.0)
        await asyncio.to_thread(wait_for, lambda: _settled(worker_pid), 60, "the long-polls to park")
        assert not any(t.done() for t in everything), [t.result() for t in everything if t.done()][:3]
        threads = thread_count(worker_pid)

        sent_at = time.monotonic()
        sent = await h.put(f"{API}/rooms/{room_id}/send/m.room.message/wake", headers=auth(alice),
                           json={"msgtype": "m.text", "body": "wake up"})
        assert sent.status_code == 200, sent.text
        done, _ = await asyncio.wait([woken_sync, woken_events], timeout=10)
        woke_after = time.monotonic() - sent_at
        await asyncio.sleep(0.3)
        still_idle = sum(not t.done() for t in idle)
        for t in idle:
            t.cancel()
        await asyncio.gather(*idle, return_exceptions=True)
        return {"threads": threads, "woke": len(done), "woke_after": woke_after, "still_idle": still_idle,
                "sync": woken_sync.result() if woken_sync.done() else None,
                "events": woken_events.result() if woken_events.done() else None,
                "event_id": sent.json()["event_id"]}


def test_many_idle_long_polls_hold_no_threads_and_a_send_wakes_its_own(tmp_path):
    port = free_port()
    with ExitStack() as stack:
        env = write_config(tmp_path, _tier_config(stack, tmp_path, port))
        manage(["migrate", "--noinput"], env)
        base = stack.enter_context(running(gunicorn_cmd(port, workers=1), env, port, tmp_path / "server.log"))
        (worker_pid,) = gunicorn_workers(port)
        with httpx.Client(base_url=base, timeout=30) as h:
            alice, bob = register(h, "alice"), register(h, "bob")
            room = h.post(f"{API}/createRoom", json={}, headers=auth(alice))
            assert room.status_code == 200, room.text
            room_id = room.json()["room_id"]
            alice_since = h.get(f"{API}/sync", headers=auth(alice)).json()["next_batch"]
            bob_since = h.get(f"{API}/sync", headers=auth(bob)).json()["next_batch"]
        before = thread_count(worker_pid)

        result = asyncio.run(_long_polls(base, alice, bob, room_id, alice_since, bob_since, worker_pid))

    assert result["threads"] <= max(MAX_THREADS, before + 10), result
    assert result["woke"] == 2 and result["woke_after"] < 3, result
    assert result["still_idle"] == LONG_POLLS - 2, result
    synced = result["sync"].json()
    assert [e["event_id"] for e in synced["rooms"]["join"][room_id]["timeline"]["events"]] == [result["event_id"]]
    streamed = result["events"].json()
    assert [e["event_id"] for e in streamed["chunk"]] == [result["event_id"]]
