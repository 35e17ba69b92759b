"""The Celery queues as an operator watches them, with real processes on PostgreSQL and Redis: the main
process (gunicorn) with `enable_metrics` and a `metrics` listener, tasks enqueued on the `background`
queue while no worker consumes it (the metrics show the queue's depth), then a real
`celery -A hsproject worker -Q background`: `celery inspect ping` names it, the tasks run, and the
metrics show them completed with their run time and queue wait; `inspect stats` counts them too.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid

import httpx
import psycopg
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.live.servers import ROOT, _env, free_port, manage, running
from tests.services.support import pg_params, wait_for
from tests.services.test_event_persisters import gunicorn

TIER = os.environ.get("HS_TEST_TIER", "fast")
pytestmark = [
    pytest.mark.services,
    pytest.mark.live,
    pytest.mark.skipif(TIER != "services", reason="needs PostgreSQL and Redis"),
]

TASK = "background.expire_tokens"
LABELS = {"queue": "background", "task": TASK}


@pytest.fixture
def database():
    name = f"hs_queue_metrics_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dbname="postgres", autocommit=True, **pg_params()) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **pg_params()) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def scrape(url: str) -> dict:
    """{(sample name, frozenset(labels)): value} of one scrape of `url`."""
    r = httpx.get(url, timeout=10)
    assert r.status_code == 200, r.text[:500]
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def celery_cli(env: dict, *args: str) -> dict:
    """`celery -A hsproject <args> --json`: the replies, by worker name ({} when none answered)."""
    out = subprocess.run([sys.executable, "-m", "celery", "-A", "hsproject", *args, "--json"], cwd=ROOT,
                         env=_env(env), capture_output=True, text=True, timeout=120)
    text = out.stdout.strip()
    if out.returncode != 0 or not text:
        return {}
    return json.loads(text.splitlines()[-1])


def test_queue_depth_inspect_and_task_metrics_of_a_real_worker(tmp_path, database):
    import redis

    redis_db = int(os.environ.get("HS_TEST_REDIS_DB", "5"))
    redis_port = int(os.environ.get("HS_TEST_REDIS_PORT", "6379"))
    redis.Redis(host="127.0.0.1", port=redis_port, db=redis_db).flushdb()
    port, repl, metrics_port, own_port = free_port(), free_port(), free_port(), free_port()
    config = {
        "server_name": "queues.test",
        "public_baseurl": f"http://127.0.0.1:{port}/",
        "form_secret": "queues-form-secret",
        "signing_key_path": str(tmp_path / "signing.key"),
        "media_store_path": str(tmp_path / "media"),
        "database": {"name": "psycopg2", "args": {"database": database, **pg_params()}},
        "redis": {"enabled": True, "host": "127.0.0.1", "port": redis_port, "dbid": redis_db},
        "ip_range_blacklist": ["0.0.0.0/0", "::/0"],
        "ip_range_whitelist": ["127.0.0.0/8"],
        # The Celery worker has a worker file (its own name), and so needs to know where main is.
        "instance_map": {"main": {"host": "127.0.0.1", "port": repl}},
        "worker_replication_secret": "queues-replication-secret",
        "enable_metrics": True,
        "listeners": [
            {"port": port, "bind_addresses": ["127.0.0.1"], "type": "http",
             "resources": [{"names": ["client", "federation"]}]},
            {"port": repl, "bind_addresses": ["127.0.0.1"], "type": "http",
             "resources": [{"names": ["replication"]}]},
            {"port": metrics_port, "bind_addresses": ["127.0.0.1"], "type": "http",
             "resources": [{"names": ["metrics"]}]},
            {"port": own_port, "bind_addresses": ["127.0.0.1"], "type": "metrics"},
        ],
    }
    (tmp_path / "homeserver.yaml").write_text(yaml.safe_dump(config))
    (tmp_path / "celery_background.yaml").write_text(yaml.safe_dump({
        "worker_app": "synapse.app.generic_worker", "worker_name": "celery_background", "worker_listeners": []}))
    env = {"HS_CONFIG": str(tmp_path / "homeserver.yaml"), "HS_DATA_DIR": str(tmp_path / "data")}
    env_celery = {**env, "HS_WORKER_CONFIG": str(tmp_path / "celery_background.yaml")}
    manage(["migrate", "--noinput"], env)
    metrics_url = f"http://127.0.0.1:{metrics_port}/_synapse/metrics"

    worker = None
    node = f"background-{uuid.uuid4().hex[:8]}"
    try:
        with running(gunicorn(port, repl, metrics_port), env, port, tmp_path / "main.log") as base:
            # Never on the client/federation listener (what the reverse proxy forwards to).
            r = httpx.get(f"{base}/_synapse/metrics", timeout=10)
            assert r.status_code == 404 and r.json()["errcode"] == "M_UNRECOGNIZED"
            # The `type: metrics` listener, started by the process itself.
            wait_for(lambda: _answers(f"http://127.0.0.1:{own_port}/metrics"), timeout=30,
                     what="the type: metrics listener")

            # Three wake-ups published by a process of the homeserver while no worker consumes the queue.
            manage(["shell", "-c", f"from hsproject.celery import app\nfor _ in range(3): app.send_task({TASK!r})"],
                   env)
            samples = scrape(metrics_url)
            assert value(samples, "hsproject_celery_queue_length", queue="background") >= 3
            assert value(samples, "hsproject_celery_tasks_started_total", **LABELS) == 0

            log = open(tmp_path / "celery.log", "wb")
            worker = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "hsproject", "worker", "-Q", "background", "-c", "1",
                 "-n", f"{node}@%h", "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
                cwd=ROOT, env=_env(env_celery), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

            def pinged():
                return [name for name, reply in celery_cli(env_celery, "inspect", "ping", "--timeout", "3").items()
                        if name.startswith(f"{node}@") and reply == {"ok": "pong"}]
            assert wait_for(pinged, timeout=90, interval=0.5, what="celery inspect ping"), \
                (tmp_path / "celery.log").read_text()[-3000:]

            def done():
                s = scrape(metrics_url)
                return s if value(s, "hsproject_celery_tasks_succeeded_total", **LABELS) >= 3 else None
            samples = wait_for(done, timeout=90, interval=0.5, what="the three tasks to complete")
            assert value(samples, "hsproject_celery_queue_length", queue="background") == 0
            assert value(samples, "hsproject_celery_tasks_started_total", **LABELS) == 3
            assert value(samples, "hsproject_celery_tasks_failed_total", **LABELS) == 0
            assert value(samples, "hsproject_celery_task_runtime_seconds_count", **LABELS) == 3
            assert value(samples, "hsproject_celery_task_runtime_seconds_bucket", le="+Inf", **LABELS) == 3
            # The enqueue time travelled in the message header from the publisher to the worker.
            assert value(samples, "hsproject_celery_task_wait_seconds_count", **LABELS) == 3
            assert value(samples, "hsproject_celery_task_wait_seconds_sum", **LABELS) > 0
            # The same numbers on the process's own metrics listener: they live in Redis, not in a process.
            own = scrape(f"http://127.0.0.1:{own_port}/metrics")
            assert value(own, "hsproject_celery_tasks_succeeded_total", **LABELS) == 3

            stats = celery_cli(env_celery, "inspect", "stats", "--timeout", "10")
            mine = [reply for name, reply in stats.items() if name.startswith(f"{node}@")]
            assert mine and mine[0]["total"].get(TASK) == 3, stats
            active = celery_cli(env_celery, "inspect", "active", "--timeout", "10")
            assert [reply for name, reply in active.items() if name.startswith(f"{node}@")] == [[]], active
    finally:
        if worker is not None and worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(timeout=5)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
