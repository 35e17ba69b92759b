"""The whole scaled-mode topology of `manage.py run_topology` (hsproject.localtopology): main, two generic
workers, two event persisters, the stream writer, the Celery queues and beat, behind a real nginx whose
configuration is generated from the routing table, on PostgreSQL and Redis.

Through nginx users register and chat in two rooms whose events are persisted by different persisters
(recorded per event); a long-poll on one generic worker receives a message sent through the other within
a second; a typing notification sent to a worker that does not write typing reaches the other user;
with one generic worker killed the service keeps answering through the other, and nothing is lost.
"""
from __future__ import annotations

import os
import threading
import time
import uuid

import httpx
import psycopg
import pytest

from tests.services.test_sync_multiprocess import _auth, _pg

TIER = os.environ.get("HS_TEST_TIER", "fast")
pytestmark = [
    pytest.mark.services,
    pytest.mark.live,
    pytest.mark.skipif(TIER != "services", reason="needs PostgreSQL and Redis"),
]

API = "/_matrix/client/v3"


@pytest.fixture
def database():
    name = f"hs_topology_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dbname="postgres", autocommit=True, **_pg()) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **_pg()) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def topology(tmp_path, database):
    import shutil

    from hsproject import localtopology

    if shutil.which("nginx") is None and not os.path.exists("/usr/sbin/nginx"):
        if os.environ.get("CI") == "true":
            pytest.fail("nginx is required with CI=true (.ci/run installs it)")
        pytest.skip("nginx is not installed")
    redis_db = int(os.environ.get("HS_TEST_REDIS_DB", "5"))
    import redis
    redis.Redis(host="127.0.0.1", port=int(os.environ.get("HS_TEST_REDIS_PORT", "6379")), db=redis_db).flushdb()
    topo = localtopology.build(
        tmp_path / "topology", base_port=localtopology.free_port_range(20),
        database={"database": database, **_pg()},
        redis={"host": "127.0.0.1", "port": int(os.environ.get("HS_TEST_REDIS_PORT", "6379")), "dbid": redis_db},
        server_name="topology.test",
        extra_config={"rc_message": {"per_second": 1000, "burst_count": 1000},
                      "rc_registration": {"per_second": 1000, "burst_count": 1000},
                      "rc_login": {"address": {"per_second": 1000, "burst_count": 1000}}})
    localtopology.migrate(topo)
    topo.start()
    try:
        yield topo
    finally:
        topo.stop()


def test_the_topology_behind_nginx(topology, database):
    with httpx.Client(base_url=topology.base_url, timeout=30) as px:
        users = {}
        for name in ("alice", "bob"):
            r = px.post(f"{API}/register", json={"username": name, "password": "a long password 1",
                                                  "auth": {"type": "m.login.dummy"}})
            assert r.status_code == 200, r.text
            users[name] = r.json()
        alice, bob = users["alice"], users["bob"]

        # Rooms until the two persisters each have one.
        rooms: dict[str, str] = {}
        for _ in range(24):
            r = px.post(f"{API}/createRoom", json={"preset": "public_chat"}, headers=_auth(alice))
            assert r.status_code == 200, r.text
            room_id = r.json()["room_id"]
            with psycopg.connect(dbname=database, **_pg()) as conn:
                owner = conn.execute("SELECT instance_name FROM room_persisters WHERE room_id = %s",
                                     (room_id,)).fetchone()[0]
            rooms.setdefault(owner, room_id)
            if len(rooms) == 2:
                break
        assert set(rooms) == {"persister1", "persister2"}, rooms

        sent: dict[str, list[str]] = {}
        for owner, room_id in rooms.items():
            assert px.post(f"{API}/rooms/{room_id}/join", json={}, headers=_auth(bob)).status_code == 200
            sent[room_id] = []
            for i in range(3):
                r = px.put(f"{API}/rooms/{room_id}/send/m.room.message/{owner}-{i}",
                           json={"msgtype": "m.text", "body": f"{owner} {i}"}, headers=_auth(alice))
                assert r.status_code == 200, r.text
                sent[room_id].append(r.json()["event_id"])
        with psycopg.connect(dbname=database, **_pg()) as conn:
            for owner, room_id in rooms.items():
                writers = {row[0] for row in conn.execute(
                    "SELECT instance_name FROM events WHERE room_id = %s", (room_id,)).fetchall()}
                assert writers == {owner}, (room_id, writers)

    # A long-poll on generic1 is woken by a send through generic2, within a second.
    room_id = rooms["persister1"]
    with httpx.Client(base_url=topology.url_of("generic1"), timeout=30) as g1, \
            httpx.Client(base_url=topology.url_of("generic2"), timeout=30) as g2:
        token = g1.get(f"{API}/sync", headers=_auth(bob)).json()["next_batch"]
        result: dict = {}

        def long_poll():
            # Other news (presence, device lists) may end a long-poll first: poll on until the message.
            since = token
            while "at" not in result:
                body = g1.get(f"{API}/sync", params={"since": since, "timeout": "20000"}, headers=_auth(bob)).json()
                events = body["rooms"]["join"].get(room_id, {}).get("timeline", {}).get("events", [])
                if any(e.get("content", {}).get("body") == "wake" for e in events):
                    result["at"] = time.monotonic()
                    result["events"] = events
                result["body"] = body
                since = body["next_batch"]

        t = threading.Thread(target=long_poll)
        t.start()
        time.sleep(1.5)
        sent_at = time.monotonic()
        r = g2.put(f"{API}/rooms/{room_id}/send/m.room.message/wake", json={"msgtype": "m.text", "body": "wake"},
                   headers=_auth(alice))
        assert r.status_code == 200, r.text
        t.join(25)
        assert not t.is_alive()
        assert result["at"] - sent_at < 1.0, result["at"] - sent_at
        assert r.json()["event_id"] in [e["event_id"] for e in result["events"]]
        sent[room_id].append(r.json()["event_id"])

        # Typing through generic2 (not the typing writer) reaches bob.
        token = result["body"]["next_batch"]
        r = g2.put(f"{API}/rooms/{room_id}/typing/{alice['user_id']}", json={"typing": True, "timeout": 20000},
                   headers=_auth(alice))
        assert r.status_code == 200, r.text
        deadline = time.monotonic() + 10
        seen = False
        while not seen and time.monotonic() < deadline:
            body = g1.get(f"{API}/sync", params={"since": token, "timeout": "2000"}, headers=_auth(bob)).json()
            eph = body["rooms"]["join"].get(room_id, {}).get("ephemeral", {}).get("events", [])
            seen = any(e["type"] == "m.typing" and alice["user_id"] in e["content"]["user_ids"] for e in eph)
            token = body["next_batch"]
        assert seen

    # The media repository is the media worker's: an upload and a download through nginx land there.
    with httpx.Client(base_url=topology.base_url, timeout=30) as px:
        up = px.post("/_matrix/media/v3/upload", content=b"hello media worker", headers={
            **_auth(alice), "Content-Type": "text/plain"})
        assert up.status_code == 200, up.text
        mxc = up.json()["content_uri"]
        down = px.get("/_matrix/client/v1/media/download/" + mxc[len("mxc://"):], headers=_auth(bob))
        assert down.status_code == 200 and down.content == b"hello media worker"
    time.sleep(0.2)
    media_log = (topology.directory / "logs" / "media1.log").read_text()
    assert "POST /_matrix/media/v3/upload 200" in media_log and "/_matrix/client/v1/media/download/" in media_log
    assert "/_matrix/media/v3/upload" not in (topology.directory / "logs" / "main.log").read_text()

    # One generic worker gone: nginx answers through the other; nothing is lost.
    topology.kill("generic1")
    with httpx.Client(base_url=topology.base_url, timeout=30) as px:
        for i in range(6):
            for room_id in sent:
                r = px.put(f"{API}/rooms/{room_id}/send/m.room.message/after-{i}",
                           json={"msgtype": "m.text", "body": f"after {i}"}, headers=_auth(alice))
                assert r.status_code == 200, r.text
                sent[room_id].append(r.json()["event_id"])
        for room_id, expected in sent.items():
            history = px.get(f"{API}/rooms/{room_id}/messages", params={"dir": "b", "limit": 100},
                             headers=_auth(bob))
            assert history.status_code == 200, history.text
            got = [e["event_id"] for e in reversed(history.json()["chunk"]) if e["type"] == "m.room.message"]
            assert got == expected
        body = px.get(f"{API}/sync", params={"filter": '{"room":{"timeline":{"limit":100}}}'},
                      headers=_auth(bob)).json()
        for room_id, expected in sent.items():
            timeline = [e["event_id"] for e in body["rooms"]["join"][room_id]["timeline"]["events"]
                        if e["type"] == "m.room.message"]
            assert timeline == expected
