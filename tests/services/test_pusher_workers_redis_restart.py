"""Two `-Q pusher` workers on a Redis of the test's own, which the test stops and starts again.

- Normal operation: two workers share one pusher's work and the gateway receives every notification
  exactly once, in order (the pusher's lease makes one worker at a time its sender).
- Redis down: sending still succeeds (the event and its push actions are in PostgreSQL; the Celery
  message is only a wake-up, and losing it is logged, not raised into the request).
- Redis back: the workers reconnect, a sweep (what beat sends every 30 s) wakes the pusher and every
  notification of the outage arrives, once each, in order.

Services tier only (PostgreSQL; a private redis-server).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid

import httpx
import pytest

from tests.federation_support import LoopbackServer
from tests.live.servers import ROOT, _env, free_port, manage, running
from tests.services.support import (API, TIER, OwnRedis, auth, base_config, pg_database, pg_params, register,
                                    wait_for, write_config)
from tests.services.test_event_persisters import gunicorn

pytestmark = [
    pytest.mark.services,
    pytest.mark.live,
    pytest.mark.skipif(TIER != "services", reason="needs PostgreSQL"),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed"),
]

NOTIFY = "/_matrix/push/v1/notify"


def _worker(env: dict, log) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "celery", "-A", "hsproject", "worker", "-Q", "pusher", "-c", "1",
                             "-n", f"pusher-{uuid.uuid4().hex[:6]}@%h", "--without-gossip", "--without-mingle",
                             "--loglevel", "INFO"], cwd=ROOT, env=_env(env), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def _sweep(env: dict) -> None:
    subprocess.run([sys.executable, "-m", "celery", "-A", "hsproject", "call", "pusher.sweep"], cwd=ROOT,
                   env=_env(env), capture_output=True, timeout=60)


def test_two_pusher_workers_and_a_redis_restart_lose_and_duplicate_nothing(tmp_path):
    redis = OwnRedis()
    redis.start()
    gateway = LoopbackServer(None)
    received: list[str] = []

    def notify(rec):
        received.append(json.loads(rec.body)["notification"]["event_id"])
        return 200, {}, {"rejected": []}
    gateway.routes[NOTIFY] = notify

    port, repl = free_port(), free_port()
    workers: list[subprocess.Popen] = []
    try:
        with pg_database("hs_pusher_restart") as database:
            config = base_config(tmp_path, port)
            config.update({
                "database": {"name": "psycopg2", "args": {"database": database, **pg_params()}},
                "redis": {"enabled": True, "host": "127.0.0.1", "port": redis.port, "dbid": 0},
                "instance_map": {"main": {"host": "127.0.0.1", "port": repl}},
                "worker_replication_secret": "pusher-restart-secret",
            })
            env = write_config(tmp_path, config)
            (tmp_path / "celery_pusher.yaml").write_text(json.dumps({
                "worker_app": "synapse.app.generic_worker", "worker_name": "celery_pusher", "worker_listeners": []}))
            env_celery = {**env, "HS_WORKER_CONFIG": str(tmp_path / "celery_pusher.yaml")}
            manage(["migrate", "--noinput"], env)
            with running(gunicorn(port, repl), env, port, tmp_path / "main.log") as base, \
                    httpx.Client(base_url=base, timeout=30) as h:
                alice, bob = register(h, "alice"), register(h, "bob")
                room_id = h.post(f"{API}/createRoom", json={"preset": "public_chat"}, headers=auth(alice)).json()[
                    "room_id"]
                assert h.post(f"{API}/rooms/{room_id}/join", json={}, headers=auth(bob)).status_code == 200
                r = h.post(f"{API}/pushers/set", headers=auth(bob), json={
                    "kind": "http", "app_id": "org.example.app", "pushkey": "k1", "app_display_name": "Example",
                    "device_display_name": "phone", "lang": "en",
                    "data": {"url": f"http://127.0.0.1:{gateway.port}{NOTIFY}"}})
                assert r.status_code == 200, r.text
                workers = [_worker(env_celery, open(tmp_path / f"celery{i}.log", "wb")) for i in (1, 2)]

                def send(txn: str) -> str:
                    r = h.put(f"{API}/rooms/{room_id}/send/m.room.message/{txn}",
                              json={"msgtype": "m.text", "body": txn}, headers=auth(alice))
                    assert r.status_code == 200, r.text
                    return r.json()["event_id"]

                def logs() -> str:
                    return "\n".join((tmp_path / f"celery{i}.log").read_text()[-2000:] for i in (1, 2))

                sent = [send(f"up-{i}") for i in range(12)]
                wait_for(lambda: len(received) >= len(sent), timeout=60, what=f"notifications: {logs()}")
                time.sleep(1.0)  # a duplicate would come now
                assert received == sent, "two workers duplicated, lost or reordered notifications"

                redis.stop()
                sent += [send(f"down-{i}") for i in range(3)]
                time.sleep(1.0)
                assert received == sent[:12]

                redis.start()
                deadline = time.monotonic() + 90
                while time.monotonic() < deadline and len(received) < len(sent):
                    _sweep(env_celery)
                    time.sleep(2)
                time.sleep(1.0)
                assert received == sent, (received, sent, logs())
    finally:
        for proc in workers:
            _stop(proc)
        gateway.close()
        redis.stop()
