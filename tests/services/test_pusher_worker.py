"""The `pusher` queue as real processes: main (gunicorn) and `celery -A hsproject worker -Q pusher` on
PostgreSQL and Redis (the broker). A push gateway on loopback hangs on the first notification; the
Celery worker is killed with SIGKILL while that request is in flight; a new worker is started and a
sweep is asked for: the notification is delivered, and each message reaches the gateway as a completed
delivery exactly once.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import httpx
import psycopg
import pytest
import yaml

from tests.federation_support import LoopbackServer
from tests.live.servers import ROOT, _env, free_port, manage, running
from tests.services.test_event_persisters import gunicorn
from tests.services.test_sync_multiprocess import _auth, _pg, _register

TIER = os.environ.get("HS_TEST_TIER", "fast")
pytestmark = [
    pytest.mark.services,
    pytest.mark.live,
    pytest.mark.skipif(TIER != "services", reason="needs PostgreSQL and Redis"),
]

API = "/_matrix/client/v3"
NOTIFY = "/_matrix/push/v1/notify"


@pytest.fixture
def database():
    name = f"hs_pushers_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dbname="postgres", autocommit=True, **_pg()) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **_pg()) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _celery(env: dict, log) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "celery", "-A", "hsproject", "worker", "-Q", "pusher", "-c", "1",
                             "-n", f"pusher-{uuid.uuid4().hex[:6]}@%h", "--without-gossip", "--without-mingle",
                             "--loglevel", "INFO"], cwd=ROOT, env=_env(env), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(proc: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def test_a_pusher_worker_killed_mid_send_loses_nothing(tmp_path, database):
    import redis

    redis_db = int(os.environ.get("HS_TEST_REDIS_DB", "5"))
    redis.Redis(host="127.0.0.1", port=int(os.environ.get("HS_TEST_REDIS_PORT", "6379")), db=redis_db).flushdb()
    hang = threading.Event()
    release = threading.Event()
    gateway = LoopbackServer(None)
    completed: list[str] = []

    def notify(rec):
        event_id = json.loads(rec.body)["notification"]["event_id"]
        if not hang.is_set():
            hang.set()
            release.wait(60)  # the first notification hangs until the test lets go (the worker is dead by then)
            return 200, {}, {"rejected": []}
        completed.append(event_id)
        return 200, {}, {"rejected": []}
    gateway.routes[NOTIFY] = notify

    port, repl = free_port(), free_port()
    config = {
        "server_name": "pushers.test",
        "public_baseurl": f"http://127.0.0.1:{port}/",
        "form_secret": "pushers-form-secret",
        "enable_registration": True,
        "enable_registration_without_verification": True,
        "signing_key_path": str(tmp_path / "signing.key"),
        "media_store_path": str(tmp_path / "media"),
        "database": {"name": "psycopg2", "args": {"database": database, **_pg()}},
        "redis": {"enabled": True, "host": "127.0.0.1", "port": int(os.environ.get("HS_TEST_REDIS_PORT", "6379")),
                  "dbid": redis_db},
        "ip_range_blacklist": ["0.0.0.0/0", "::/0"],
        "ip_range_whitelist": ["127.0.0.0/8"],
        "instance_map": {"main": {"host": "127.0.0.1", "port": repl}},
        "worker_replication_secret": "pushers-replication-secret",
        "rc_message": {"per_second": 1000, "burst_count": 1000},
        "rc_registration": {"per_second": 1000, "burst_count": 1000},
    }
    (tmp_path / "homeserver.yaml").write_text(yaml.safe_dump(config))
    (tmp_path / "celery_pusher.yaml").write_text(yaml.safe_dump({
        "worker_app": "synapse.app.generic_worker", "worker_name": "celery_pusher", "worker_listeners": []}))
    env = {"HS_CONFIG": str(tmp_path / "homeserver.yaml"), "HS_DATA_DIR": str(tmp_path / "data")}
    env_celery = {**env, "HS_WORKER_CONFIG": str(tmp_path / "celery_pusher.yaml")}
    manage(["migrate", "--noinput"], env)

    worker = second = None
    try:
        with running(gunicorn(port, repl), env, port, tmp_path / "main.log") as base, \
                httpx.Client(base_url=base, timeout=30) as h:
            alice, bob = _register(h, "alice"), _register(h, "bob")
            room_id = h.post(f"{API}/createRoom", json={"preset": "public_chat"}, headers=_auth(alice)).json()["room_id"]
            assert h.post(f"{API}/rooms/{room_id}/join", json={}, headers=_auth(bob)).status_code == 200
            r = h.post(f"{API}/pushers/set", headers=_auth(bob), json={
                "kind": "http", "app_id": "org.example.app", "pushkey": "k1", "app_display_name": "Example",
                "device_display_name": "phone", "lang": "en",
                "data": {"url": f"http://127.0.0.1:{gateway.port}{NOTIFY}"}})
            assert r.status_code == 200, r.text

            worker = _celery(env_celery, open(tmp_path / "celery1.log", "wb"))
            sent = []
            for i in range(3):
                r = h.put(f"{API}/rooms/{room_id}/send/m.room.message/m{i}", json={"msgtype": "m.text", "body": str(i)},
                          headers=_auth(alice))
                assert r.status_code == 200, r.text
                sent.append(r.json()["event_id"])
            assert hang.wait(60), (tmp_path / "celery1.log").read_text()[-3000:]
            _stop(worker, signal.SIGKILL)  # mid-send: the gateway has the request, the worker is gone
            release.set()

            second = _celery(env_celery, open(tmp_path / "celery2.log", "wb"))
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and completed != sent:
                subprocess.run([sys.executable, "-m", "celery", "-A", "hsproject", "call", "pusher.sweep"], cwd=ROOT,
                               env=_env(env_celery), capture_output=True, timeout=60)
                time.sleep(2)
            assert completed == sent, (completed, sent, (tmp_path / "celery2.log").read_text()[-3000:])
    finally:
        for proc in (worker, second):
            if proc is not None:
                _stop(proc)
        gateway.close()
