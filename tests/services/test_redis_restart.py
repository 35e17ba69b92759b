"""Losing Redis delays a delivery, never loses one (DESIGN section 4), with real processes.

Two homeserver processes (main writes events; worker1 serves /sync) share PostgreSQL and a redis-server of
this test's own, which the test stops and starts again while a client keeps long-polling /sync on worker1.
Events sent through main while Redis is down are never announced on the replication channel (the publish
fails); when Redis is back, worker1's transport reconnects, catches up from `stream_positions` and the
events table, and wakes the long-poll. The client sees every event exactly once, in order.

Services tier only (PostgreSQL; a private redis-server).
"""
from __future__ import annotations

import shutil
import threading
import time

import httpx
import pytest
import yaml

from tests.live.servers import free_port, gunicorn_cmd, manage, running
from tests.services.support import (API, TIER, OwnRedis, auth, base_config, pg_database, pg_params, register,
                                    wait_for, write_config)

pytestmark = [
    pytest.mark.services,
    pytest.mark.live,
    pytest.mark.skipif(TIER != "services", reason="needs PostgreSQL"),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed"),
]

FILTER = '{"room":{"timeline":{"limit":100}}}'


class SyncLoop:
    """A client syncing in a loop on one process, recording every timeline event id it is given."""

    def __init__(self, base: str, user: dict, room_id: str, since: str):
        self.base, self.user, self.room_id, self.token = base, user, room_id, since
        self.seen: list[str] = []
        self.errors: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=30) as h:
            while not self.stop.is_set():
                try:
                    r = h.get(f"{API}/sync", params={"since": self.token, "timeout": "3000", "filter": FILTER},
                              headers=auth(self.user))
                except httpx.HTTPError as e:
                    self.errors.append(repr(e))
                    time.sleep(0.2)
                    continue
                if r.status_code != 200:
                    self.errors.append(f"{r.status_code} {r.text[:200]}")
                    time.sleep(0.2)
                    continue
                body = r.json()
                timeline = body["rooms"]["join"].get(self.room_id, {}).get("timeline", {})
                self.seen.extend(e["event_id"] for e in timeline.get("events", []))
                self.token = body["next_batch"]

    def __enter__(self) -> "SyncLoop":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(10)


def test_events_sent_while_redis_is_down_reach_a_long_poll_on_another_process(tmp_path):
    redis = OwnRedis()
    redis.start()
    port_a, port_b, repl = free_port(), free_port(), free_port()
    try:
        with pg_database("hs_redis_restart") as database:
            config = base_config(tmp_path, port_a)
            config.update({
                "database": {"name": "psycopg2", "args": {"database": database, **pg_params()}},
                "redis": {"enabled": True, "host": "127.0.0.1", "port": redis.port, "dbid": 0},
                "instance_map": {"main": {"host": "127.0.0.1", "port": repl}},
                "worker_replication_secret": "redis-restart-secret",
            })
            env_a = write_config(tmp_path, config)
            (tmp_path / "worker1.yaml").write_text(yaml.safe_dump({"worker_app": "synapse.app.generic_worker",
                                                                    "worker_name": "worker1"}))
            env_b = {**env_a, "HS_WORKER_CONFIG": str(tmp_path / "worker1.yaml")}
            manage(["migrate", "--noinput"], env_a)
            with running(gunicorn_cmd(port_a, workers=1), env_a, port_a, tmp_path / "main.log") as base_a, \
                    running(gunicorn_cmd(port_b, workers=1), env_b, port_b, tmp_path / "worker1.log") as base_b, \
                    httpx.Client(base_url=base_a, timeout=30) as a, httpx.Client(base_url=base_b, timeout=30) as b:
                _scenario(a, b, base_b, redis)
    finally:
        redis.stop()


def _send(a: httpx.Client, user: dict, room_id: str, txn: str) -> str:
    r = a.put(f"{API}/rooms/{room_id}/send/m.room.message/{txn}", json={"msgtype": "m.text", "body": txn},
              headers=auth(user))
    assert r.status_code == 200, r.text
    return r.json()["event_id"]


def _scenario(a: httpx.Client, b: httpx.Client, base_b: str, redis: OwnRedis) -> None:
    alice, bob = register(a, "alice"), register(a, "bob")
    room = a.post(f"{API}/createRoom", json={"preset": "public_chat"}, headers=auth(alice))
    assert room.status_code == 200, room.text
    room_id = room.json()["room_id"]
    assert a.post(f"{API}/rooms/{room_id}/join", json={}, headers=auth(bob)).status_code == 200

    def joined_on_worker():
        r = b.get(f"{API}/sync", headers=auth(bob))
        return r.json() if r.status_code == 200 and room_id in r.json()["rooms"]["join"] else None
    since = wait_for(joined_on_worker, what="the worker to see bob's join")["next_batch"]

    with SyncLoop(base_b, bob, room_id, since) as loop:
        time.sleep(0.5)
        sent = [_send(a, alice, room_id, "live-1")]
        wait_for(lambda: loop.seen == sent, timeout=10, what="live delivery before the outage")

        redis.stop()
        time.sleep(1.0)  # the worker's subscription is gone; the long-poll goes on waiting
        during = [_send(a, alice, room_id, f"down-{i}") for i in range(3)]
        sent += during
        time.sleep(2.0)
        assert loop.seen == sent[:1], "an event sent while Redis was down arrived before Redis came back"

        restarted = time.monotonic()
        redis.start()
        # Reconnect (backoff at most 2 s), catch-up from the database, the notifier wakes the long-poll.
        wait_for(lambda: len(loop.seen) >= len(sent), timeout=15, what="catch-up after Redis came back")
        caught_up_after = time.monotonic() - restarted
        sent.append(_send(a, alice, room_id, "live-2"))
        wait_for(lambda: len(loop.seen) >= len(sent), timeout=10, what="live delivery after the restart")
        time.sleep(0.5)

    assert loop.seen == sent, "events skipped, duplicated or out of order"
    assert caught_up_after < 10
    assert not loop.errors, loop.errors


def test_cache_serves_without_redis():
    """The shared cache with Redis away: reads miss, writes are dropped, quickly, and nothing raises."""
    from apps.core.cache import TolerantRedisCache

    nowhere = free_port()  # nothing listens there
    cache = TolerantRedisCache(f"redis://127.0.0.1:{nowhere}/0",
                               {"OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}})
    started = time.monotonic()
    assert cache.get("k", "default") == "default"
    assert cache.get_many(["a", "b"]) == {}
    assert cache.add("k", 1, 10) is False
    cache.set("k", 1, 10)
    cache.set_many({"a": 1}, 10)
    assert cache.delete("k") is False
    assert cache.has_key("k") is False
    assert time.monotonic() - started < 5

    redis = OwnRedis(nowhere)
    redis.start()
    try:  # and it is a real cache again once Redis is there
        cache.set("k", 42, 10)
        assert cache.get("k") == 42
    finally:
        redis.stop()
