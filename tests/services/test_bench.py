"""The benchmarks in bench/ run and print what they promise: each, with tiny parameters, against one real
server process (`--target`, `--pid`), prints one JSON object with its results. Fast tier only (they
measure the embedded default; the numbers themselves are recorded in docs/benchmarks.md)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.live.servers import ROOT, free_port, gunicorn_cmd, manage, running
from tests.services.support import TIER, base_config, gunicorn_workers, write_config

pytestmark = [pytest.mark.live, pytest.mark.skipif(TIER != "fast", reason="measures the embedded default")]

RUNS = [
    ("send", ["--count", "5", "--concurrency", "1", "2"]),
    ("fanout", ["--clients", "3", "--messages", "2"]),
    ("initial_sync", ["--rooms", "2", "--messages", "1", "--runs", "1"]),
    ("idle_syncs", ["--polls", "10"]),
]


def test_benchmarks_print_their_results(tmp_path):
    port = free_port()
    env = write_config(tmp_path, base_config(tmp_path, port))
    manage(["migrate", "--noinput"], env)
    with running(gunicorn_cmd(port, workers=1), env, port, tmp_path / "server.log") as base:
        (pid,) = gunicorn_workers(port)
        out = {}
        for name, args in RUNS:
            proc = subprocess.run([sys.executable, str(ROOT / "bench" / f"{name}.py"), "--target", base,
                                   "--pid", str(pid), *args], capture_output=True, text=True, timeout=180)
            assert proc.returncode == 0, proc.stderr[-3000:]
            out[name] = json.loads(proc.stdout)
    assert all(out[n]["bench"] == n and out[n]["target"] == base for n, _ in RUNS)
    assert out["send"]["results"]["concurrency_2"]["latency"]["count"] == 5
    assert out["send"]["results"]["concurrency_1"]["events_per_s"] > 0
    assert out["fanout"]["results"]["deliveries"] == 6 == out["fanout"]["results"]["expected"]
    assert out["initial_sync"]["results"]["initial_sync"]["count"] == 1
    idle = out["idle_syncs"]["results"]
    assert idle["still_waiting"] == 10 and idle["threads_added"] < 10 and "rss_kib_per_poll" in idle


def test_bench_refuses_a_target_off_loopback():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "send.py"), "--target", "http://example.invalid:8008"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "loopback" in proc.stderr
