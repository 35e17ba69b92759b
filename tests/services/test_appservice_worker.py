"""A real `celery -A hsproject worker -Q appservice` process delivering transactions to a real application
service, with a real homeserver process in front (gunicorn), on PostgreSQL and Redis (the broker).

While the service is down the worker backs off and retries the same transaction; when it comes back every
event arrives exactly once and in order. Then the worker is killed with SIGKILL while events are waiting,
and a new worker delivers them: the Celery message is a wake-up, the database is the record.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
import yaml

from tests.api.appservice.support import FakeAppService, registration
from tests.live.servers import ROOT, _env, free_port, gunicorn_cmd, manage, running
from tests.services.support import API, auth, base_config, pg_database, pg_params, register, wait_for, write_config

TIER = os.environ.get("HS_TEST_TIER", "fast")
pytestmark = [
    pytest.mark.services,
    pytest.mark.live,
    pytest.mark.skipif(TIER != "services", reason="needs PostgreSQL and Redis"),
]
AS_TOKEN = "as-token-for-tests"


def start_worker(env: dict, log) -> subprocess.Popen:
    out = open(log, "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "hsproject", "worker", "-Q", "appservice", "-P", "solo",
         "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "info", "-n", f"as{time.time_ns()}@%h"],
        cwd=ROOT, env=_env(env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    wait_for(lambda: b"ready." in log.read_bytes() or proc.poll() is not None, timeout=60, what="celery worker")
    assert proc.poll() is None, log.read_text()[-3000:]
    return proc


def stop(proc: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def lease_free(db: str) -> bool:
    import psycopg

    with psycopg.connect(dbname=db, **pg_params()) as conn:
        row = conn.execute("SELECT lease_owner FROM appservice_state WHERE appservice_id = 'bridge'").fetchone()
    return row is not None and row[0] is None


def test_worker_delivers_through_downtime_and_a_killed_worker(tmp_path):
    fake = FakeAppService().start()
    port = free_port()
    reg_path = tmp_path / "bridge.yaml"
    reg_path.write_text(yaml.safe_dump(registration(fake)))
    workers: list[subprocess.Popen] = []
    with pg_database("hs_as_worker") as db:
        config = base_config(tmp_path, port)
        config.update({
            "server_name": "as.test",
            "database": {"name": "psycopg2", "args": {"database": db, **pg_params()}},
            "redis": {"enabled": True, "host": "127.0.0.1", "port": int(os.environ.get("HS_TEST_REDIS_PORT", "6379")),
                      "dbid": int(os.environ.get("HS_TEST_REDIS_DB", "5"))},
            "app_service_config_files": [str(reg_path)],
        })
        env = write_config(tmp_path, config)
        manage(["migrate", "--noinput"], env)
        try:
            workers.append(start_worker(env, tmp_path / "worker.log"))
            with running(gunicorn_cmd(port, workers=1), env, port, tmp_path / "hs.log") as base, \
                    httpx.Client(base_url=base, timeout=30) as hs:
                alice = register(hs, "alice")
                bot = {"access_token": AS_TOKEN}
                r = hs.post(f"{API}/register", json={"type": "m.login.application_service", "username": "_bridge_ivy",
                                                     "inhibit_login": True}, headers=auth(bot))
                assert r.status_code == 200, r.text
                ivy = r.json()["user_id"]
                room = hs.post(f"{API}/createRoom", json={"preset": "public_chat"}, headers=auth(alice)).json()["room_id"]
                assert hs.post(f"{API}/join/{room}", params={"user_id": ivy}, json={},
                               headers=auth(bot)).status_code == 200

                def send(text: str) -> str:
                    resp = hs.put(f"{API}/rooms/{room}/send/m.room.message/{text}",
                                  json={"msgtype": "m.text", "body": text}, headers=auth(alice))
                    assert resp.status_code == 200, resp.text
                    return resp.json()["event_id"]

                def delivered() -> list[str]:
                    return [e["event_id"] for e in fake.acknowledged_events() if e["type"] == "m.room.message"]

                expected = [send("before")]
                wait_for(lambda: delivered() == expected, timeout=20, what="first delivery")

                fake.stop()
                expected += [send(f"down{i}") for i in range(3)]
                time.sleep(1.5)  # the worker tries, fails, and backs off
                fake.start()
                wait_for(lambda: delivered() == expected, timeout=30, what="delivery after the service came back")

                # A worker killed outright (once it holds no lease: a lease of a worker killed mid-transaction
                # only expires, after transactions.LEASE_MS); events wait; a new worker delivers them.
                wait_for(lambda: lease_free(db), timeout=10, what="the worker to finish its run")
                stop(workers[0], signal.SIGKILL)
                expected += [send(f"orphan{i}") for i in range(2)]
                time.sleep(0.5)
                assert delivered() == expected[:-2]
                workers.append(start_worker(env, tmp_path / "worker2.log"))
                expected.append(send("wake-up"))
                wait_for(lambda: delivered() == expected, timeout=30, what="delivery by the new worker")

                txn_paths = [t.path for t in fake.transactions() if t.answered == 200]
                assert len(txn_paths) == len(set(txn_paths)), "a transaction was acknowledged twice"
        finally:
            for w in workers:
                stop(w)
            fake.stop()
