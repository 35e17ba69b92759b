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


def test_procfile_binds_match_the_examples(tmp_path):
    """deploy/Procfile runs each example process with the binds its configuration declares."""
    lines = [l for l in (DEPLOY / "Procfile").read_text().splitlines() if l and not l.startswith("#")]
    procs = dict(l.split(": ", 1) for l in lines)
    assert {p.stem for p in WORKERS if not p.stem.startswith("celery_")} | {"main"} <= set(procs)
    for name, cmd in procs.items():
        bound = {int(p) for p in re.findall(r"-b 127\.0\.0\.1:(\d+)", cmd)}
        if name == "main":
            cfg = load_from_files(str(SHARED), None, data_dir=str(tmp_path))
            assert bound == {l.port for l in cfg.listeners if l.type == "http"}
        elif "gunicorn" in cmd:
            worker = DEPLOY / "examples" / "workers" / f"{name}.yaml"
            assert f"HS_WORKER_CONFIG=deploy/examples/workers/{name}.yaml" in cmd
            cfg = load_from_files(str(SHARED), str(worker), data_dir=str(tmp_path))
            assert bound == {l.port for l in cfg.workers.worker_listeners}


def test_compose_file_runs_every_example_process():
    import yaml

    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {p.stem for p in WORKERS} - {"celery_background"} <= set(services) | {"celery_background"}
    for name, service in services.items():
        env = service.get("environment") or {}
        if isinstance(env, dict) and "HS_WORKER_CONFIG" in env:
            assert (DEPLOY / "examples" / "workers" / Path(env["HS_WORKER_CONFIG"]).name).exists(), name


def test_proxy_config_of_the_examples(monkeypatch):
    """The example topology (Celery identity files included) gives a proxy configuration."""
    import io

    from django.core.management import call_command

    monkeypatch.setenv("HS_CONFIG", str(SHARED))
    out = io.StringIO()
    call_command("generate_proxy_config", "--format", "nginx", "--worker-config",
                 str(DEPLOY / "examples" / "workers" / "*.yaml"), stdout=out)
    text = out.getvalue()
    assert "upstream hs_writer_typing" in text and "127.0.0.1:8084" in text
    assert "upstream hs_media" in text and "127.0.0.1:8085" in text
