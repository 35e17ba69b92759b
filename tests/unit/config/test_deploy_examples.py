"""deploy/examples must stay loadable: the shared file alone (main) and layered under every worker file."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from hsproject.config import load_from_files

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
SHARED = DEPLOY / "examples" / "homeserver.yaml"
WORKERS = sorted((DEPLOY / "examples" / "workers").glob("*.yaml"))


def test_there_are_examples():
    names = {p.stem for p in WORKERS}
    assert {"generic_worker1", "event_persister1", "typing_writer", "media_worker1"} <= names


def test_shared_example_loads_as_main(tmp_path):
    cfg = load_from_files(str(SHARED), None, data_dir=str(tmp_path))
    assert cfg.is_main and not cfg.embedded
    assert cfg.database.engine == "postgresql" and cfg.redis.enabled
    assert cfg.workers.writers_of("events") == ("event_persister1", "event_persister2")
    for listener in cfg.listeners:
        assert listener.bind_addresses == ("127.0.0.1",)


@pytest.mark.parametrize("worker", WORKERS, ids=lambda p: p.stem)
def test_worker_example_loads_over_shared(tmp_path, worker):
    cfg = load_from_files(str(SHARED), str(worker), data_dir=str(tmp_path))
    assert cfg.workers.instance_name == worker.stem
    for listener in cfg.workers.worker_listeners:
        if "replication" in listener.resources:
            assert listener.bind_addresses == ("127.0.0.1",), "a replication listener must never be public"
    # Every stream writer's replication port is the one instance_map advertises.
    if any(cfg.workers.writes(s) for s in ("events", "typing")):
        ports = {l.port for l in cfg.workers.worker_listeners if "replication" in l.resources}
        assert cfg.workers.instance_map[worker.stem].port in ports


@pytest.mark.parametrize("worker", [w for w in WORKERS if not w.stem.startswith("celery_")], ids=lambda p: p.stem)
def test_systemd_env_binds_match_worker_listeners(tmp_path, worker):
    env = worker.with_suffix(".env").read_text()
    binds = re.search(r"^HS_BIND=(.*)$", env, re.M).group(1)
    bound = {int(port) for port in re.findall(r"-b 127\.0\.0\.1:(\d+)", binds)}
    cfg = load_from_files(str(SHARED), str(worker), data_dir=str(tmp_path))
    assert bound == {l.port for l in cfg.workers.worker_listeners}


def test_main_unit_binds_match_main_listeners(tmp_path):
    unit = (DEPLOY / "templates" / "systemd" / "hsproject-main.service").read_text()
    assert "gunicorn hsproject.asgi:application" in unit and "-k uvicorn_worker.UvicornWorker" in unit
    bound = {int(p) for p in re.findall(r"-b 127\.0\.0\.1:(\d+)", unit)}
    cfg = load_from_files(str(SHARED), None, data_dir=str(tmp_path))
    assert bound == {l.port for l in cfg.listeners if l.type == "http"}


def test_celery_unit_consumes_one_queue():
    unit = (DEPLOY / "templates" / "systemd" / "hsproject-celery@.service").read_text()
    assert "celery -A hsproject worker -Q %i" in unit
    from workers.queues import QUEUE_NAMES

    for queue in QUEUE_NAMES:
        assert (DEPLOY / "examples" / "workers" / f"celery_{queue}.yaml").exists()
