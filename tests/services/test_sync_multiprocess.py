"""Two real homeserver processes on one PostgreSQL and one Redis: a message sent through process A (main,
the events writer) wakes a /sync long-poll waiting on process B (a generic worker serving /sync), over
Redis replication, within a few seconds; and B's incremental syncs return every event exactly once.

Services tier only (needs PostgreSQL and Redis); each process is gunicorn with one uvicorn worker (one
process per instance: two OS processes claiming the same instance name would be two writers of one name).
"""
from __future__ import annotations

import os
import threading
import time
import uuid

import httpx
import pytest
import yaml

from tests.live.servers import free_port, gunicorn_cmd, manage, running

TIER = os.environ.get("HS_TEST_TIER", "fast")
pytestmark = [
    pytest.mark.services,
    pytest.mark.live,
    pytest.mark.skipif(TIER != "services", reason="needs PostgreSQL and Redis"),
]

API = "/_matrix/client/v3"


def _pg() -> dict:
    return {"host": os.environ.get("HS_TEST_PG_HOST", "127.0.0.1"),
            "port": int(os.environ.get("HS_TEST_PG_PORT", "5432")),
            "user": os.environ.get("HS_TEST_PG_USER", "postgres")}


@pytest.fixture
def database():
    import psycopg

    name = f"hs_sync_mp_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dbname="postgres", autocommit=True, **_pg()) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **_pg()) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _register(h: httpx.Client, name: str) -> dict:
    r = h.post(f"{API}/register", json={"username": name, "password": "a long password 1",
                                         "auth": {"type": "m.login.dummy"}})
    assert r.status_code == 200, r.text
    return r.json()


def _auth(user: dict) -> dict:
    return {"Authorization": f"Bearer {user['access_token']}"}


def test_send_on_main_wakes_long_poll_on_worker(tmp_path, database):
    port_a, port_b, repl = free_port(), free_port(), free_port()
    shared = {
        "server_name": "mp.test",
        "public_baseurl": f"http://127.0.0.1:{port_a}/",
        "form_secret": "mp-test-secret",
        "enable_registration": True,
        "enable_registration_without_verification": True,
        "signing_key_path": str(tmp_path / "signing.key"),
        "media_store_path": str(tmp_path / "media"),
        "database": {"name": "psycopg2", "args": {"database": database, **_pg()}},
        "redis": {"enabled": True, "host": "127.0.0.1", "port": int(os.environ.get("HS_TEST_REDIS_PORT", "6379")),
                  # A db id of its own: the replication channel name carries it.
                  "dbid": int(os.environ.get("HS_TEST_REDIS_DB", "5"))},
        "instance_map": {"main": {"host": "127.0.0.1", "port": repl}},
        "worker_replication_secret": "mp-replication-secret",
        "ip_range_blacklist": ["0.0.0.0/0", "::/0"],
        "ip_range_whitelist": ["127.0.0.0/8"],
        "rc_message": {"per_second": 1000, "burst_count": 1000},
        "rc_registration": {"per_second": 1000, "burst_count": 1000},
    }
    (tmp_path / "homeserver.yaml").write_text(yaml.safe_dump(shared))
    (tmp_path / "worker1.yaml").write_text(yaml.safe_dump({"worker_app": "synapse.app.generic_worker",
                                                            "worker_name": "worker1"}))
    env_a = {"HS_CONFIG": str(tmp_path / "homeserver.yaml"), "HS_DATA_DIR": str(tmp_path / "data")}
    env_b = {**env_a, "HS_WORKER_CONFIG": str(tmp_path / "worker1.yaml")}
    manage(["migrate", "--noinput"], env_a)

    with running(gunicorn_cmd(port_a, workers=1), env_a, port_a, tmp_path / "a.log") as base_a, \
            running(gunicorn_cmd(port_b, workers=1), env_b, port_b, tmp_path / "b.log") as base_b, \
            httpx.Client(base_url=base_a, timeout=30) as a, httpx.Client(base_url=base_b, timeout=30) as b:
        alice, bob = _register(a, "alice"), _register(a, "bob")
        room = a.post(f"{API}/createRoom", json={"preset": "public_chat"}, headers=_auth(alice))
        assert room.status_code == 200, room.text
        room_id = room.json()["room_id"]
        assert a.post(f"{API}/rooms/{room_id}/join", json={}, headers=_auth(bob)).status_code == 200

        # B sees what A wrote (read from the shared database up to what replication says is persisted).
        deadline = time.monotonic() + 10
        while True:
            first = b.get(f"{API}/sync", headers=_auth(bob))
            assert first.status_code == 200, first.text
            if room_id in first.json()["rooms"]["join"] or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert room_id in first.json()["rooms"]["join"]
        token = first.json()["next_batch"]

        result: dict = {}

        def long_poll():
            try:
                started = time.monotonic()
                r = b.get(f"{API}/sync", params={"since": token, "timeout": "30000"}, headers=_auth(bob))
                result["elapsed"] = time.monotonic() - started
                result["response"] = r
            except BaseException as e:  # noqa: BLE001 - reported below
                result["error"] = e

        t = threading.Thread(target=long_poll)
        t.start()
        time.sleep(1.0)
        assert t.is_alive(), result  # B is holding the long-poll
        sent_at = time.monotonic()
        sent = a.put(f"{API}/rooms/{room_id}/send/m.room.message/t1", json={"msgtype": "m.text", "body": "hi B"},
                     headers=_auth(alice))
        assert sent.status_code == 200, sent.text
        t.join(10)
        assert not t.is_alive(), "the long-poll on B was not woken by the send on A"
        assert "error" not in result, result
        assert time.monotonic() - sent_at < 5
        resp = result["response"]
        assert resp.status_code == 200, resp.text
        events = resp.json()["rooms"]["join"][room_id]["timeline"]["events"]
        assert [e["event_id"] for e in events] == [sent.json()["event_id"]]

        # Many sends on A, incremental syncs on B: each event exactly once, in order.
        token = resp.json()["next_batch"]
        expected = [sent.json()["event_id"]]
        ids = []
        for i in range(20):
            r = a.put(f"{API}/rooms/{room_id}/send/m.room.message/m{i}", json={"msgtype": "m.text", "body": str(i)},
                      headers=_auth(alice if i % 2 else bob))
            assert r.status_code == 200, r.text
            expected.append(r.json()["event_id"])
        got = [expected[0]]
        deadline = time.monotonic() + 15
        while len(got) < len(expected) and time.monotonic() < deadline:
            r = b.get(f"{API}/sync", params={"since": token, "timeout": "2000",
                                             "filter": '{"room":{"timeline":{"limit":100}}}'}, headers=_auth(bob))
            assert r.status_code == 200, r.text
            body = r.json()
            ids = [e["event_id"] for e in body["rooms"]["join"].get(room_id, {}).get("timeline", {}).get("events", [])]
            got.extend(ids)
            token = body["next_batch"]
        assert got == expected
