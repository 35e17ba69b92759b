"""A real process with a bad configuration stops before serving: non-zero exit, the key on stderr."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def run_check(tmp_path: Path, config: str | None, worker: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HS_")}
    env.update(DJANGO_SETTINGS_MODULE="hsproject.settings", HS_DATA_DIR=str(tmp_path / "data"))
    if config is not None:
        path = tmp_path / "homeserver.yaml"
        path.write_text(config)
        env["HS_CONFIG"] = str(path)
    if worker is not None:
        path = tmp_path / "worker.yaml"
        path.write_text(worker)
        env["HS_WORKER_CONFIG"] = str(path)
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("config,key", [
    ("server_name: example.org\nform_secret: s\nenable_registation: true\n", "enable_registation"),
    ("server_name: 'bad name'\nform_secret: s\n", "server_name"),
    ("server_name: example.org\nform_secret: s\nlisteners:\n  - port: 99999\n", "listeners[0].port"),
    ("server_name: example.org\nform_secret: s\ninstance_map: {main: {port: 9093}}\n"
     "stream_writers: {typing: [main, other]}\n", "stream_writers.typing"),
    ("server_name: example.org\nmax_upload_size: lots\nform_secret: s\n", "max_upload_size"),
    # Valid for the config loader, refused when settings are derived: no secret outside the embedded default.
    ("server_name: example.org\n", "form_secret"),
])
def test_bad_config_stops_the_process(tmp_path, config, key):
    proc = run_check(tmp_path, config)
    assert proc.returncode != 0, proc.stdout
    assert f"'{key}'" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr


def test_bad_worker_config_stops_the_process(tmp_path):
    shared = "server_name: example.org\nform_secret: s\ninstance_map: {main: {port: 9093}}\n"
    proc = run_check(tmp_path, shared, "worker_app: synapse.app.generic_worker\nworker_name: w1\nworker_listners: []\n")
    assert proc.returncode != 0
    assert "'worker_listners'" in proc.stderr, proc.stderr


def test_good_config_passes_the_check(tmp_path):
    db = tmp_path / "data" / "hs.db"
    proc = run_check(tmp_path, f"server_name: example.org\nform_secret: s\n"
                               f"database: {{name: sqlite3, args: {{database: '{db}'}}}}\n")
    assert proc.returncode == 0, proc.stderr


def test_embedded_default_passes_the_check(tmp_path):
    proc = run_check(tmp_path, None)
    assert proc.returncode == 0, proc.stderr
