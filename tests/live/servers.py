"""Starting real homeserver processes for end-to-end tests: loopback only, free ports, always stopped."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HS_", "DJANGO_"))}
    env["DJANGO_SETTINGS_MODULE"] = "hsproject.settings"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def manage(args: list[str], env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=_env(env), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300)


def wait_ready(base_url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(base_url + "/_matrix/client/versions", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server did not answer within {timeout}s:\n{log.read_text()[-4000:]}")


@contextmanager
def running(cmd: list[str], env: dict[str, str], port: int, log: Path):
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(env), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, proc, log)
        yield base
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


def runserver_cmd(port: int) -> list[str]:
    return [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]


def gunicorn_cmd(port: int, workers: int = 2) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "hsproject.asgi:application", "-k", "uvicorn_worker.UvicornWorker",
            "-b", f"127.0.0.1:{port}", "-w", str(workers), "--graceful-timeout", "5"]
