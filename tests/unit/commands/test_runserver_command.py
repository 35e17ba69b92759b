"""`manage.py runserver` is ours: daphne's ASGI server on 127.0.0.1:8008, and in the embedded default it
prepares the data directory (schema, signing key) so that it alone gives a working homeserver."""
from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from daphne.management.commands.runserver import Command as DaphneRunserver
from django.conf import settings
from django.core.management import get_commands

from apps.core.management.commands import runserver

ROOT = Path(__file__).resolve().parents[3]


def test_runserver_is_ours_and_serves_asgi():
    assert get_commands()["runserver"] == "apps.core"
    cmd = runserver.Command()
    assert isinstance(cmd, DaphneRunserver)
    assert (cmd.default_addr, cmd.default_port) == ("127.0.0.1", "8008")


def test_prepare_embedded_migrates_and_creates_the_signing_key(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(runserver, "call_command", lambda *a, **kw: calls.append((a, kw)))
    key_path = tmp_path / "keys" / "server.signing.key"
    key_path.parent.mkdir()
    monkeypatch.setattr(settings, "HS", settings.HS.replace(embedded=True, signing_key_path=key_path))
    runserver.Command().prepare_embedded()
    assert calls == [(("migrate",), {"interactive": False, "verbosity": 0})]
    assert key_path.read_text().startswith("ed25519 ")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.live
def test_embedded_runserver_starts_from_an_empty_data_directory(tmp_path):
    data = tmp_path / "data"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HS_", "DJANGO_"))}
    env.update(DJANGO_SETTINGS_MODULE="hsproject.settings", HS_DATA_DIR=str(data), PYTHONUNBUFFERED="1")
    log = tmp_path / "runserver.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "manage.py", "runserver", "--noreload", str(port)], cwd=ROOT,
                                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_matrix/client/versions", timeout=2) as r:
                    assert "versions" in json.load(r)
                    break
            except OSError:
                time.sleep(0.2)
        # The address given as a bare port binds loopback, never all interfaces.
        assert f"http://127.0.0.1:{port}/" in log.read_text()
        # No broker: the periodic jobs run in this process (workers.local_beat), started beside serving.
        while "running the beat schedule in this process" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        with sqlite3.connect(data / "homeserver.db") as db:
            applied = {row[0] for row in db.execute("SELECT app FROM django_migrations")}
        assert {"accounts", "auth", "sessions"} <= applied
        keys = list(data.glob("*.signing.key"))
        assert [k.name for k in keys] == ["localhost_8008.signing.key"]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
