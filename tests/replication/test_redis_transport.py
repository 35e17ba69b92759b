"""Replication over a real Redis between two simulated processes (services tier).

Two `ReplicationState`s in one test process, each with its own `RedisTransport` (own connections, own
subscriber thread), stand for two processes; they share the test database as real processes share
PostgreSQL. The second test runs its own redis-server so it can stop it: messages published while Redis
is down are lost, and the receiver must get everything back from the database when Redis returns.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid

import pytest
from django.conf import settings
from django.db import transaction

from apps.streams import registry
from apps.streams.replication import ReplicationState, allocate_position, on_commit_publish
from apps.streams.transport.redis import RedisTransport
from tests.unit.streams.conftest import Recorder, RowLog

pytestmark = [
    pytest.mark.services,
    pytest.mark.skipif(os.environ.get("HS_TEST_TIER") != "services", reason="needs Redis and PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]


def wait_for(predicate, timeout=5.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def typing_log():
    log = RowLog()
    s = registry.get("typing")
    restore = registry._replace_for_tests(registry.Stream(s.name, s.writers_key, log.fetch, s.notify_keys))
    yield log
    restore()


@pytest.fixture
def processes():
    """make(name, url, prefix) -> a started ReplicationState over Redis; all stopped afterwards."""
    states: list[ReplicationState] = []

    def make(name: str, url: str, prefix: str) -> ReplicationState:
        t = RedisTransport(url, channel_prefix=prefix, resync_interval=60, backoff_initial=0.02, backoff_max=0.2,
                           name=name)
        st = ReplicationState(name, lambda s: ("main",), t)
        states.append(st)
        st.start()
        assert t.wait_until_subscribed(5), f"{name} could not subscribe"
        return st

    yield make
    for st in states:
        st.stop()


def write(state, stream, rows, log):
    with transaction.atomic():
        pos = allocate_position(stream, state=state)
        log.add(pos, *rows)
        on_commit_publish(stream, pos, rows, state=state)
    return pos


def test_two_processes_over_redis(processes, typing_log):
    prefix = f"hs-test-{uuid.uuid4().hex}:"   # channels are server-wide: keep other runs out
    main = processes("main", settings.HS.redis.url, prefix)
    worker = processes("worker1", settings.HS.redis.url, prefix)
    seen = Recorder()
    worker.add_listener(seen)
    fetches_before = len(typing_log.fetches)

    p1 = write(main, "typing", [{"room_id": "!r:x", "n": 1}], typing_log)
    p2 = write(main, "typing", [{"room_id": "!r:x", "n": 2}], typing_log)

    wait_for(lambda: worker.persisted_up_to("typing") == p2, what="worker to hear p2")
    assert [(p, r["n"]) for p, r in seen.rows("typing")] == [(p1, 1), (p2, 2)]
    assert len(typing_log.fetches) == fetches_before          # live over Redis, no database catch-up
    assert main.transport.published >= 2 and main.transport.publish_failures == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OwnRedis:
    def __init__(self, port: int):
        self.port = port
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def up():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    return s.recv(16).startswith(b"+PONG")
            except OSError:
                return False
        wait_for(up, what=f"redis-server on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
def test_redis_restart_loses_nothing(processes, typing_log):
    redis = OwnRedis(_free_port())
    redis.start()
    try:
        url = f"redis://127.0.0.1:{redis.port}/0"
        prefix = f"hs-test-{uuid.uuid4().hex}:"
        main = processes("main", url, prefix)
        worker = processes("worker1", url, prefix)
        seen = Recorder()
        worker.add_listener(seen)

        p1 = write(main, "typing", [{"n": 1}], typing_log)
        wait_for(lambda: worker.persisted_up_to("typing") == p1, what="live delivery of p1")

        redis.stop()
        wait_for(lambda: not worker.transport.subscribed, what="the worker to notice Redis is gone")
        p2 = write(main, "typing", [{"n": 2}], typing_log)   # published into the void
        p3 = write(main, "typing", [{"n": 3}], typing_log)
        assert main.transport.publish_failures >= 2
        assert worker.persisted_up_to("typing") == p1

        redis.start()
        # Reconnect -> subscribe -> resync from stream_positions and the stream's rows.
        wait_for(lambda: worker.persisted_up_to("typing") == p3, what="catch-up after the restart")
        assert [(p, r["n"]) for p, r in seen.rows("typing")] == [(p1, 1), (p2, 2), (p3, 3)]
        assert worker.transport.reconnects >= 1

        # And live delivery works again (the writer's publisher reconnects too).
        p4 = write(main, "typing", [{"n": 4}], typing_log)
        wait_for(lambda: worker.persisted_up_to("typing") == p4, what="live delivery after the restart")
        assert [r["n"] for _, r in seen.rows("typing")] == [1, 2, 3, 4]
    finally:
        redis.stop()


def test_process_transport_channel_is_per_redis_database():
    from apps.streams.replication import build_transport
    t = build_transport()
    assert isinstance(t, RedisTransport)
    assert t.channel == f"hs:{settings.HS.redis.dbid}:replication"
