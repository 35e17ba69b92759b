"""What every benchmark shares: a homeserver to measure and a few client calls over the public API.

Without `--target`, a benchmark starts this project's server itself: the embedded default (SQLite,
in-process replication) served as deployed, gunicorn with one uvicorn worker, bound to a free loopback
port, in a temporary directory, stopped at the end. With `--target URL` it measures any homeserver
already running there (e.g. Synapse, for a comparison); that server must allow open registration
(`enable_registration` and `enable_registration_without_verification`) and generous rate limits.
`--pid` then names its process, for the measures that read /proc.

Only the client-server API is spoken; only loopback addresses are accepted as targets.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
API = "/_matrix/client/v3"
PASSWORD = "bench password 1"


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--target", help="base URL of a running homeserver on loopback (default: start this one)")
    p.add_argument("--pid", type=int, help="the target's server process (for /proc measures)")
    return p


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _loopback_only(url: str) -> str:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host not in ("localhost", "::1") and not host.startswith("127."):
        raise SystemExit(f"--target must be a loopback address, not {host!r}")
    return url.rstrip("/")


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HS_", "DJANGO_"))}
    env.update({"DJANGO_SETTINGS_MODULE": "hsproject.settings", "PYTHONUNBUFFERED": "1", **extra})
    return env


def _wait_ready(base: str, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(base + "/_matrix/client/versions", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server did not answer within {timeout}s:\n{log.read_text()[-3000:]}")


def _worker_pid(master: int) -> int | None:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == master:
                        return int(entry)
            except OSError:
                continue
    return None


@contextmanager
def this_server():
    """This project, embedded default, gunicorn + one uvicorn worker on a free loopback port."""
    import yaml

    tmp = Path(tempfile.mkdtemp(prefix="hs-bench-"))
    port = free_port()
    many = {"per_second": 100000, "burst_count": 100000}
    config = {
        "server_name": "bench.test", "public_baseurl": f"http://127.0.0.1:{port}/", "form_secret": "bench",
        "enable_registration": True, "enable_registration_without_verification": True,
        "signing_key_path": str(tmp / "signing.key"), "media_store_path": str(tmp / "media"),
        "ip_range_blacklist": ["0.0.0.0/0", "::/0"], "ip_range_whitelist": ["127.0.0.0/8"],
        "rc_message": many, "rc_registration": many, "rc_joins": {"local": many, "remote": many},
        "rc_login": {"address": many, "account": many, "failed_attempts": many},
    }
    (tmp / "homeserver.yaml").write_text(yaml.safe_dump(config))
    env = _env({"HS_CONFIG": str(tmp / "homeserver.yaml"), "HS_DATA_DIR": str(tmp / "data")})
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL, timeout=600)
    log = tmp / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "hsproject.asgi:application", "-k",
                                 "uvicorn_worker.UvicornWorker", "-b", f"127.0.0.1:{port}", "-w", "1",
                                 "--graceful-timeout", "5", "--log-level", "warning"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_ready(base, proc, log)
        yield base, _worker_pid(proc.pid)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def server(args):
    """(base URL, server pid or None, name) of what to measure."""
    if args.target:
        yield _loopback_only(args.target), args.pid, args.target
    else:
        with this_server() as (base, pid):
            yield base, pid, "hsproject (embedded default: SQLite, gunicorn + 1 uvicorn worker)"


def machine() -> dict:
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def report(name: str, target: str, params: dict, results: dict) -> None:
    print(json.dumps({"bench": name, "target": target, "params": params, "results": results,
                      "machine": machine()}, indent=2))


def summary_ms(samples: list[float]) -> dict:
    """Latency samples (seconds) as milliseconds: count, min, median, p95, max."""
    if not samples:
        return {"count": 0}
    s = sorted(samples)
    return {"count": len(s), "min_ms": round(s[0] * 1000, 2), "median_ms": round(statistics.median(s) * 1000, 2),
            "p95_ms": round(s[min(len(s) - 1, int(len(s) * 0.95))] * 1000, 2), "max_ms": round(s[-1] * 1000, 2)}


def proc_status(pid: int | None) -> dict:
    """Threads and resident memory of a process (Linux /proc)."""
    if pid is None:
        return {}
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key == "Threads":
                out["threads"] = int(value)
            elif key == "VmRSS":
                out["rss_kib"] = int(value.split()[0])
    return out


# --- client calls -----------------------------------------------------------------------------------------

class User:
    def __init__(self, user_id: str, token: str):
        self.user_id, self.token = user_id, token

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}


async def register(h: httpx.AsyncClient, prefix: str = "bench") -> User:
    """A new user, by m.login.dummy (with the session round trip servers that want one ask for)."""
    name = f"{prefix}{uuid.uuid4().hex[:10]}"
    body: dict = {"username": name, "password": PASSWORD, "inhibit_login": False}
    r = await h.post(f"{API}/register", json={**body, "auth": {"type": "m.login.dummy"}})
    if r.status_code == 401 and "session" in r.json():
        r = await h.post(f"{API}/register", json={**body, "auth": {"type": "m.login.dummy",
                                                                      "session": r.json()["session"]}})
    r.raise_for_status()
    data = r.json()
    return User(data["user_id"], data["access_token"])


async def create_room(h: httpx.AsyncClient, user: User, **body) -> str:
    r = await h.post(f"{API}/createRoom", json={"preset": "public_chat", **body}, headers=user.headers)
    r.raise_for_status()
    return r.json()["room_id"]


async def join(h: httpx.AsyncClient, user: User, room_id: str) -> None:
    r = await h.post(f"{API}/rooms/{urllib.parse.quote(room_id)}/join", json={}, headers=user.headers)
    r.raise_for_status()


async def send(h: httpx.AsyncClient, user: User, room_id: str, body: str) -> str:
    r = await h.put(f"{API}/rooms/{urllib.parse.quote(room_id)}/send/m.room.message/{uuid.uuid4().hex}",
                    json={"msgtype": "m.text", "body": body}, headers=user.headers)
    r.raise_for_status()
    return r.json()["event_id"]


async def sync(h: httpx.AsyncClient, user: User, since: str | None = None, timeout_ms: int = 0,
               filter_json: str | None = None) -> dict:
    params = {"timeout": str(timeout_ms)}
    if since:
        params["since"] = since
    if filter_json:
        params["filter"] = filter_json
    r = await h.get(f"{API}/sync", params=params, headers=user.headers)
    r.raise_for_status()
    return r.json()


def client(base: str, connections: int = 100) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=base, timeout=120, limits=limits)
