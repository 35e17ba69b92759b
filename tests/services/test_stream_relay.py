"""Writes of single-writer streams relayed to their writer, as three real processes on one PostgreSQL and
one Redis: `main` (events, device lists), `streams1` (typing, receipts, account data, to-device, push
rules, presence) and `worker1`, which writes nothing. A client talking only to worker1 registers, logs
in, creates a room, types, sets account data and push rules, sends receipts and to-device messages, and
sees each write at once (read-after-write) and in the other user's /sync; the writers' logs show they
served the relayed requests.
"""
from __future__ import annotations

import json
import os
import time
import uuid

import httpx
import psycopg
import pytest
import yaml

from tests.live.servers import free_port, manage, running
from tests.services.test_event_persisters import gunicorn
from tests.services.test_sync_multiprocess import _auth, _pg

TIER = os.environ.get("HS_TEST_TIER", "fast")
pytestmark = [
    pytest.mark.services,
    pytest.mark.live,
    pytest.mark.skipif(TIER != "services", reason="needs PostgreSQL and Redis"),
]

API = "/_matrix/client/v3"
STREAMS = ("typing", "receipts", "account_data", "to_device", "push_rules", "presence")


@pytest.fixture
def database():
    name = f"hs_relay_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dbname="postgres", autocommit=True, **_pg()) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **_pg()) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _served(log_path, method: str, fragment: str) -> int:
    return sum(1 for line in log_path.read_text().splitlines()
               if "hsproject.request" in line and f"{method} " in line and fragment in line)


def _sync_until(w: httpx.Client, user: dict, since: str | None, check, timeout: float = 15):
    deadline = time.monotonic() + timeout
    body = None
    while time.monotonic() < deadline:
        params = {"timeout": "2000"}
        if since:
            params["since"] = since
        r = w.get(f"{API}/sync", params=params, headers=_auth(user))
        assert r.status_code == 200, r.text
        body = r.json()
        if check(body):
            return body
        since = body["next_batch"]
    raise AssertionError(f"not seen in sync within {timeout}s: {json.dumps(body)[:2000]}")


def test_single_writer_streams_are_relayed_to_their_writer(tmp_path, database):
    port_main, repl_main = free_port(), free_port()
    port_s, repl_s = free_port(), free_port()
    port_w = free_port()
    shared = {
        "server_name": "relay.test",
        "public_baseurl": f"http://127.0.0.1:{port_main}/",
        "form_secret": "relay-form-secret",
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
                         "streams1": {"host": "127.0.0.1", "port": repl_s}},
        "stream_writers": {s: "streams1" for s in STREAMS},
        "worker_replication_secret": "relay-replication-secret",
        "ip_range_blacklist": ["0.0.0.0/0", "::/0"],
        "ip_range_whitelist": ["127.0.0.0/8"],
        "rc_message": {"per_second": 1000, "burst_count": 1000},
        "rc_registration": {"per_second": 1000, "burst_count": 1000},
        "rc_login": {"address": {"per_second": 1000, "burst_count": 1000},
                     "account": {"per_second": 1000, "burst_count": 1000}},
    }
    (tmp_path / "homeserver.yaml").write_text(yaml.safe_dump(shared))
    (tmp_path / "streams1.yaml").write_text(yaml.safe_dump({
        "worker_app": "synapse.app.generic_worker", "worker_name": "streams1",
        "worker_listeners": [{"port": port_s, "bind_addresses": ["127.0.0.1"], "type": "http",
                              "resources": [{"names": ["client"]}]},
                             {"port": repl_s, "bind_addresses": ["127.0.0.1"], "type": "http",
                              "resources": [{"names": ["replication"]}]}]}))
    (tmp_path / "worker1.yaml").write_text(yaml.safe_dump({
        "worker_app": "synapse.app.generic_worker", "worker_name": "worker1",
        "worker_listeners": [{"port": port_w, "bind_addresses": ["127.0.0.1"], "type": "http",
                              "resources": [{"names": ["client"]}]}]}))
    env_main = {"HS_CONFIG": str(tmp_path / "homeserver.yaml"), "HS_DATA_DIR": str(tmp_path / "data")}
    env_s = {**env_main, "HS_WORKER_CONFIG": str(tmp_path / "streams1.yaml")}
    env_w = {**env_main, "HS_WORKER_CONFIG": str(tmp_path / "worker1.yaml")}
    manage(["migrate", "--noinput"], env_main)

    with running(gunicorn(port_main, repl_main), env_main, port_main, tmp_path / "main.log"), \
            running(gunicorn(port_s, repl_s), env_s, port_s, tmp_path / "s.log"), \
            running(gunicorn(port_w), env_w, port_w, tmp_path / "w.log") as base_w, \
            httpx.Client(base_url=base_w, timeout=30) as w:
        users = {}
        for name in ("alice", "bob"):
            r = w.post(f"{API}/register", json={"username": name, "password": "a long password 1",
                                                 "auth": {"type": "m.login.dummy"}})
            assert r.status_code == 200, r.text
            users[name] = r.json()
        alice, bob = users["alice"], users["bob"]
        login = w.post(f"{API}/login", json={"type": "m.login.password", "password": "a long password 1",
                                              "identifier": {"type": "m.id.user", "user": "bob"}})
        assert login.status_code == 200, login.text
        bob2 = login.json()

        room_id = w.post(f"{API}/createRoom", json={"preset": "public_chat"}, headers=_auth(alice)).json()["room_id"]
        assert w.post(f"{API}/rooms/{room_id}/join", json={}, headers=_auth(bob)).status_code == 200
        since = _sync_until(w, bob, None, lambda b: room_id in b["rooms"]["join"])["next_batch"]

        # Account data: written on streams1, readable on worker1 at once.
        r = w.put(f"{API}/user/{alice['user_id']}/account_data/org.example.relay", json={"n": 1},
                  headers=_auth(alice))
        assert r.status_code == 200, r.text
        got = w.get(f"{API}/user/{alice['user_id']}/account_data/org.example.relay", headers=_auth(alice))
        assert got.status_code == 200 and got.json() == {"n": 1}, got.text

        # Typing, seen by bob.
        r = w.put(f"{API}/rooms/{room_id}/typing/{alice['user_id']}", json={"typing": True, "timeout": 20000},
                  headers=_auth(alice))
        assert r.status_code == 200, r.text

        def typing_seen(body):
            eph = body["rooms"]["join"].get(room_id, {}).get("ephemeral", {}).get("events", [])
            return any(e["type"] == "m.typing" and alice["user_id"] in e["content"]["user_ids"] for e in eph)
        since = _sync_until(w, bob, since, typing_seen)["next_batch"]

        # A receipt from bob, seen by alice.
        event_id = w.put(f"{API}/rooms/{room_id}/send/m.room.message/r1", json={"msgtype": "m.text", "body": "x"},
                         headers=_auth(alice)).json()["event_id"]
        r = w.post(f"{API}/rooms/{room_id}/receipt/m.read/{event_id}", json={}, headers=_auth(bob))
        assert r.status_code == 200, r.text

        def receipt_seen(body):
            eph = body["rooms"]["join"].get(room_id, {}).get("ephemeral", {}).get("events", [])
            return any(e["type"] == "m.receipt" and event_id in e["content"] for e in eph)
        _sync_until(w, alice, None, receipt_seen)

        # To-device from alice to bob's second device.
        r = w.put(f"{API}/sendToDevice/org.example.ping/t1",
                  json={"messages": {bob["user_id"]: {bob2["device_id"]: {"hello": "there"}}}}, headers=_auth(alice))
        assert r.status_code == 200, r.text
        _sync_until(w, bob2, None, lambda b: any(e["type"] == "org.example.ping"
                                                 for e in b.get("to_device", {}).get("events", [])))

        # A push rule: written on streams1, listed on worker1 at once.
        r = w.put(f"{API}/pushrules/global/content/relayrule", json={"pattern": "cake", "actions": ["notify"]},
                  headers=_auth(alice))
        assert r.status_code == 200, r.text
        rules = w.get(f"{API}/pushrules/", headers=_auth(alice)).json()
        assert any(rule["rule_id"] == "relayrule" for rule in rules["global"]["content"])

        # Presence.
        r = w.put(f"{API}/presence/{alice['user_id']}/status", json={"presence": "online", "status_msg": "relayed"},
                  headers=_auth(alice))
        assert r.status_code == 200, r.text
        status = w.get(f"{API}/presence/{alice['user_id']}/status", headers=_auth(bob)).json()
        assert status.get("status_msg") == "relayed", status

        time.sleep(0.2)
        s_log, m_log, w_log = tmp_path / "s.log", tmp_path / "main.log", tmp_path / "w.log"
        for method, fragment in (("PUT", "/typing/"), ("PUT", "/account_data/"), ("POST", "/receipt/"),
                                 ("PUT", "/sendToDevice/"), ("PUT", "/pushrules/"), ("PUT", "/presence/")):
            assert _served(s_log, method, fragment) >= 1, (method, fragment)
        for method, fragment in (("POST", "/register"), ("POST", "/login")):
            assert _served(m_log, method, fragment) >= 1, (method, fragment)
