"""`manage.py move_room` under load: a room is handed back and forth between the two event persisters of
a running topology (hsproject.localtopology, without Celery) while two clients keep sending into it
through two generic workers. Every send succeeds; the room's history holds every event exactly once, in
the order sent; stream positions follow that order; both persisters wrote part of it; no process was
restarted.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import httpx
import psycopg
import pytest

from tests.services.test_sync_multiprocess import _auth, _pg
from tests.services.test_topology import database  # noqa: F401 - fixture

TIER = os.environ.get("HS_TEST_TIER", "fast")
pytestmark = [
    pytest.mark.services,
    pytest.mark.live,
    pytest.mark.skipif(TIER != "services", reason="needs PostgreSQL and Redis"),
]

API = "/_matrix/client/v3"


@pytest.fixture
def topology(tmp_path, database):  # noqa: F811 - the fixture above
    import shutil

    import redis

    from hsproject import localtopology

    if shutil.which("nginx") is None and not os.path.exists("/usr/sbin/nginx"):
        if os.environ.get("CI") == "true":
            pytest.fail("nginx is required with CI=true (.ci/run installs it)")
        pytest.skip("nginx is not installed")
    redis_db = int(os.environ.get("HS_TEST_REDIS_DB", "5"))
    redis.Redis(host="127.0.0.1", port=int(os.environ.get("HS_TEST_REDIS_PORT", "6379")), db=redis_db).flushdb()
    topo = localtopology.build(
        tmp_path / "topology", base_port=localtopology.free_port_range(20),
        database={"database": database, **_pg()},
        redis={"host": "127.0.0.1", "port": int(os.environ.get("HS_TEST_REDIS_PORT", "6379")), "dbid": redis_db},
        server_name="move.test", celery=False,
        extra_config={"rc_message": {"per_second": 1000, "burst_count": 1000},
                      "rc_registration": {"per_second": 1000, "burst_count": 1000}})
    localtopology.migrate(topo)
    topo.start()
    try:
        yield topo
    finally:
        topo.stop()


def test_a_room_moves_between_persisters_while_clients_send(topology, database):
    with httpx.Client(base_url=topology.url_of("generic1"), timeout=30) as g1, \
            httpx.Client(base_url=topology.url_of("generic2"), timeout=30) as g2:
        alice = g1.post(f"{API}/register", json={"username": "alice", "password": "a long password 1",
                                                  "auth": {"type": "m.login.dummy"}}).json()
        room_id = g1.post(f"{API}/createRoom", json={"preset": "public_chat"}, headers=_auth(alice)).json()["room_id"]
        with psycopg.connect(dbname=database, **_pg()) as conn:
            first = conn.execute("SELECT instance_name FROM room_persisters WHERE room_id = %s",
                                 (room_id,)).fetchone()[0]
        other = "persister2" if first == "persister1" else "persister1"

        sent: list[str] = []
        failures: list[str] = []
        stop = threading.Event()

        def sender():
            i = 0
            while not stop.is_set():
                client = g1 if i % 2 else g2
                r = client.put(f"{API}/rooms/{room_id}/send/m.room.message/load-{i}",
                               json={"msgtype": "m.text", "body": str(i)}, headers=_auth(alice))
                if r.status_code != 200:
                    failures.append(f"{i}: {r.status_code} {r.text}")
                else:
                    sent.append(r.json()["event_id"])
                i += 1

        t = threading.Thread(target=sender)
        t.start()
        env = dict(topology.process("main").env)
        try:
            for target in (other, first, other, first, other):
                time.sleep(0.7)
                moved = subprocess.run([sys.executable, "manage.py", "move_room", room_id, target],
                                       cwd=str(_root()), env=env, capture_output=True, text=True, timeout=60)
                assert moved.returncode == 0, moved.stderr
            time.sleep(0.7)
        finally:
            stop.set()
            t.join(60)
        assert not failures, failures[:5]
        assert len(sent) >= 10, len(sent)

        history = g1.get(f"{API}/rooms/{room_id}/messages", params={"dir": "b", "limit": 1000},
                         headers=_auth(alice)).json()
        got = [e["event_id"] for e in reversed(history["chunk"]) if e["type"] == "m.room.message"]
        assert got == sent

        with psycopg.connect(dbname=database, **_pg()) as conn:
            rows = dict((eid, (pos, inst)) for eid, pos, inst in conn.execute(
                "SELECT event_id, stream_ordering, instance_name FROM events WHERE room_id = %s", (room_id,)))
        positions = [rows[e][0] for e in sent]
        assert positions == sorted(positions)
        assert {rows[e][1] for e in sent} == {"persister1", "persister2"}

        # A room cannot go to an instance that is not an event persister.
        refused = subprocess.run([sys.executable, "manage.py", "move_room", room_id, "generic1"], cwd=str(_root()),
                                 env=env, capture_output=True, text=True, timeout=60)
        assert refused.returncode != 0 and "not an event persister" in refused.stderr


def _root():
    from pathlib import Path

    return Path(__file__).resolve().parents[2]
