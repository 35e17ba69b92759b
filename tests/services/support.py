"""What the end-to-end tests of sync need around real server processes: a homeserver configuration for
the tier (SQLite embedded default on the fast tier; a fresh PostgreSQL database and Redis on the services
tier), a private redis-server that a test may stop and start, the process tree of a gunicorn server, and
the few client calls the tests make. Loopback only."""
from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import httpx
import yaml

from tests.live.servers import free_port

API = "/_matrix/client/v3"
TIER = os.environ.get("HS_TEST_TIER", "fast")


def wait_for(predicate, timeout: float = 10.0, what: str = "condition", interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def pg_params() -> dict:
    return {"host": os.environ.get("HS_TEST_PG_HOST", "127.0.0.1"),
            "port": int(os.environ.get("HS_TEST_PG_PORT", "5432")),
            "user": os.environ.get("HS_TEST_PG_USER", "postgres")}


@contextmanager
def pg_database(prefix: str = "hs_sync_e2e"):
    """A fresh PostgreSQL database, dropped afterwards."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dbname="postgres", autocommit=True, **pg_params()) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **pg_params()) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def base_config(tmp_path: Path, port: int) -> dict:
    """A homeserver YAML for tests: open registration, no rate limits that a test would hit, federation
    traffic confined to loopback."""
    return {
        "server_name": "e2e.test",
        "public_baseurl": f"http://127.0.0.1:{port}/",
        "form_secret": "e2e-test-secret",
        "enable_registration": True,
        "enable_registration_without_verification": True,
        "signing_key_path": str(tmp_path / "signing.key"),
        "media_store_path": str(tmp_path / "media"),
        "ip_range_blacklist": ["0.0.0.0/0", "::/0"],
        "ip_range_whitelist": ["127.0.0.0/8"],
        "rc_message": {"per_second": 10000, "burst_count": 10000},
        "rc_registration": {"per_second": 10000, "burst_count": 10000},
        "rc_login": {"address": {"per_second": 10000, "burst_count": 10000},
                     "account": {"per_second": 10000, "burst_count": 10000}},
    }


def write_config(tmp_path: Path, config: dict) -> dict[str, str]:
    """Write homeserver.yaml; the environment of a process using it."""
    (tmp_path / "homeserver.yaml").write_text(yaml.safe_dump(config))
    return {"HS_CONFIG": str(tmp_path / "homeserver.yaml"), "HS_DATA_DIR": str(tmp_path / "data")}


class OwnRedis:
    """A redis-server of the test's own on a free loopback port, so that the test may stop it."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _up(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self._up, what=f"redis-server on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def _ppid(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    # Field 4 (ppid) follows the command name in parentheses, which may itself contain spaces.
    return int(stat.rsplit(")", 1)[1].split()[1])


def gunicorn_workers(port: int) -> list[int]:
    """The worker processes of the gunicorn bound to 127.0.0.1:`port` (forked from the master, they share
    its command line; the master is the one whose parent is not among them)."""
    bind = f"127.0.0.1:{port}".encode()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
            if bind in args and b"gunicorn" in args:
                pids.append(int(entry))
        except OSError:
            continue
    out = []
    for pid in pids:
        try:
            if _ppid(pid) in pids:
                out.append(pid)
        except OSError:
            continue
    return out


def thread_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def register(h: httpx.Client, name: str) -> dict:
    r = h.post(f"{API}/register", json={"username": name, "password": "a long password 1",
                                         "auth": {"type": "m.login.dummy"}})
    assert r.status_code == 200, r.text
    return r.json()


def auth(user: dict) -> dict:
    return {"Authorization": f"Bearer {user['access_token']}"}
