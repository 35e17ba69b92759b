"""Event creation on a generic worker, persistence on the room's event persister (two persisters, rooms
sharded between them), as three real processes on one PostgreSQL and one Redis:

- a client talks only to the worker (an event creator that writes no stream): rooms it creates are
  placed on `main` or `persister1` by the stable hash, and every event is persisted there (the
  persisters' logs show the hand-overs);
- read-after-write: the event a send returns is readable on the worker at once;
- history and sync on the worker show every event exactly once, in order;
- the replication endpoint refuses requests without the replication secret.
"""
from __future__ import annotations

import os
import time
import uuid

import httpx
import psycopg
import pytest
import yaml

from tests.live.servers import free_port, manage, running
from tests.services.test_sync_multiprocess import _auth, _pg, _register

TIER = os.environ.get("HS_TEST_TIER", "fast")
pytestmark = [
    pytest.mark.services,
    pytest.mark.live,
    pytest.mark.skipif(TIER != "services", reason="needs PostgreSQL and Redis"),
]

API = "/_matrix/client/v3"
SECRET = "persisters-replication-secret"


@pytest.fixture
def database():
    name = f"hs_persisters_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dbname="postgres", autocommit=True, **_pg()) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **_pg()) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def gunicorn(*ports: int) -> list[str]:
    import sys
    cmd = [sys.executable, "-m", "gunicorn", "hsproject.asgi:application", "-k", "uvicorn_worker.UvicornWorker",
           "-w", "1", "--graceful-timeout", "5"]
    for p in ports:
        cmd += ["-b", f"127.0.0.1:{p}"]
    return cmd


def test_events_created_on_a_worker_are_persisted_by_the_rooms_persister(tmp_path, database):
    port_main, repl_main = free_port(), free_port()
    port_p1, repl_p1 = free_port(), free_port()
    port_w = free_port()
    shared = {
        "server_name": "persisters.test",
        "public_baseurl": f"http://127.0.0.1:{port_main}/",
        "form_secret": "persisters-form-secret",
        "enable_registration": True,
        "enable_registration_without_verification": True,
        "signing_key_path": str(tmp_path / "signing.key"),
        "media_store_path": str(tmp_path / "media"),
        "database": {"name": "psycopg2", "args": {"database": database, **_pg()}},
        "redis": {"enabled": True, "host": "127.0.0.1", "port": int(os.environ.get("HS_TEST_REDIS_PORT", "6379")),
                  "dbid": int(os.environ.get("HS_TEST_REDIS_DB", "5"))},
        "listeners": [{"port": port_main, "bind_addresses": ["127.0.0.1"], "type": "http",
                       "resources": [{"names": ["client", "federation"]}]},
                      {"port": repl_main, "bind_addresses": ["127.0.0.1"], "type": "http",
                       "resources": [{"names": ["replication"]}]}],
        "instance_map": {"main": {"host": "127.0.0.1", "port": repl_main},
                         "persister1": {"host": "127.0.0.1", "port": repl_p1}},
        "stream_writers": {"events": ["main", "persister1"]},
        "worker_replication_secret": SECRET,
        "ip_range_blacklist": ["0.0.0.0/0", "::/0"],
        "ip_range_whitelist": ["127.0.0.0/8"],
        "rc_message": {"per_second": 1000, "burst_count": 1000},
        "rc_registration": {"per_second": 1000, "burst_count": 1000},
    }
    (tmp_path / "homeserver.yaml").write_text(yaml.safe_dump(shared))
    (tmp_path / "persister1.yaml").write_text(yaml.safe_dump({
        "worker_app": "synapse.app.generic_worker", "worker_name": "persister1",
        "worker_listeners": [{"port": port_p1, "bind_addresses": ["127.0.0.1"], "type": "http",
                              "resources": [{"names": ["client"]}]},
                             {"port": repl_p1, "bind_addresses": ["127.0.0.1"], "type": "http",
                              "resources": [{"names": ["replication"]}]}]}))
    (tmp_path / "worker1.yaml").write_text(yaml.safe_dump({
        "worker_app": "synapse.app.generic_worker", "worker_name": "worker1",
        "worker_listeners": [{"port": port_w, "bind_addresses": ["127.0.0.1"], "type": "http",
                              "resources": [{"names": ["client"]}]}]}))
    env_main = {"HS_CONFIG": str(tmp_path / "homeserver.yaml"), "HS_DATA_DIR": str(tmp_path / "data")}
    env_p1 = {**env_main, "HS_WORKER_CONFIG": str(tmp_path / "persister1.yaml")}
    env_w = {**env_main, "HS_WORKER_CONFIG": str(tmp_path / "worker1.yaml")}
    manage(["migrate", "--noinput"], env_main)

    with running(gunicorn(port_main, repl_main), env_main, port_main, tmp_path / "main.log") as base_main, \
            running(gunicorn(port_p1, repl_p1), env_p1, port_p1, tmp_path / "p1.log"), \
            running(gunicorn(port_w), env_w, port_w, tmp_path / "w.log") as base_w, \
            httpx.Client(base_url=base_main, timeout=30) as m, httpx.Client(base_url=base_w, timeout=30) as w:
        alice, bob = _register(m, "alice"), _register(m, "bob")

        # Rooms created through the worker until both persisters own one.
        rooms: list[str] = []
        owners: dict[str, str] = {}
        for _ in range(24):
            r = w.post(f"{API}/createRoom", json={"preset": "public_chat"}, headers=_auth(alice))
            assert r.status_code == 200, r.text
            rooms.append(r.json()["room_id"])
            with psycopg.connect(dbname=database, **_pg()) as conn:
                owners = dict(conn.execute("SELECT room_id, instance_name FROM room_persisters").fetchall())
            if set(owners.values()) == {"main", "persister1"}:
                break
        assert set(owners.values()) == {"main", "persister1"}, owners

        for room_id in rooms:
            assert w.post(f"{API}/rooms/{room_id}/join", json={}, headers=_auth(bob)).status_code == 200
            sent = []
            for i in range(5):
                r = w.put(f"{API}/rooms/{room_id}/send/m.room.message/{room_id}-{i}",
                          json={"msgtype": "m.text", "body": f"{i}"}, headers=_auth(alice if i % 2 else bob))
                assert r.status_code == 200, r.text
                event_id = r.json()["event_id"]
                # Read-after-write on the worker that created it.
                got = w.get(f"{API}/rooms/{room_id}/event/{event_id}", headers=_auth(bob))
                assert got.status_code == 200, got.text
                sent.append(event_id)
            # The same transaction id again: the same event, not a second one.
            again = w.put(f"{API}/rooms/{room_id}/send/m.room.message/{room_id}-0",
                          json={"msgtype": "m.text", "body": "0"}, headers=_auth(bob))
            assert again.status_code == 200 and again.json()["event_id"] == sent[0]
            history = w.get(f"{API}/rooms/{room_id}/messages", params={"dir": "b", "limit": 50},
                            headers=_auth(bob)).json()
            bodies = [e["event_id"] for e in reversed(history["chunk"]) if e["type"] == "m.room.message"]
            assert bodies == sent

        # Sync on the worker: every room, every message once.
        body = w.get(f"{API}/sync", params={"filter": '{"room":{"timeline":{"limit":100}}}'},
                     headers=_auth(bob)).json()
        for room_id in rooms:
            timeline = body["rooms"]["join"][room_id]["timeline"]["events"]
            msgs = [e["event_id"] for e in timeline if e["type"] == "m.room.message"]
            assert len(msgs) == len(set(msgs)) == 5

        # Each persister took hand-overs for its own rooms (the worker writes no events itself).
        time.sleep(0.2)
        def served_handovers(log: str) -> int:
            return sum(1 for line in (tmp_path / log).read_text().splitlines()
                       if "hsproject.request" in line and "POST /_hs/replication/persist_event/" in line)
        assert served_handovers("main.log") > 0 and served_handovers("p1.log") > 0
        assert served_handovers("w.log") == 0

        # The replication endpoint wants the secret.
        url = f"http://127.0.0.1:{repl_p1}/_hs/replication/persist_event/{rooms[0]}"
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            r = httpx.post(url, json={}, headers=headers)
            assert r.status_code == 403 and r.json()["errcode"] == "M_FORBIDDEN"
        r = httpx.post(url, json={"room_version": "nope"}, headers={"Authorization": f"Bearer {SECRET}"})
        assert r.status_code == 400 and r.json()["errcode"] == "M_BAD_JSON"
