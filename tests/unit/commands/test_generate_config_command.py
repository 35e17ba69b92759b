"""`manage.py generate_config` / `generate_worker_config` write files that the real loader accepts."""
from __future__ import annotations

import io
import re
import stat
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from hsproject.config import load_from_files


def generate(tmp_path: Path, *args: str, name: str = "homeserver.yaml") -> Path:
    out = tmp_path / name
    call_command("generate_config", "--server-name", "example.org", "--output", str(out), *args,
                 stdout=io.StringIO())
    return out


def test_generated_config_loads_with_scaled_mode_values(tmp_path):
    path = generate(tmp_path, "--data-dir", "/srv/hs", "--db-host", "db.internal", "--db-password", "pw")
    cfg = load_from_files(str(path), None, data_dir=str(tmp_path))
    assert not cfg.embedded
    assert cfg.server_name == "example.org"
    assert cfg.public_baseurl == "https://example.org/"
    assert cfg.database.engine == "postgresql"
    assert (cfg.database.host, cfg.database.port, cfg.database.name, cfg.database.password) == (
        "db.internal", 5432, "hsproject", "pw")
    assert cfg.redis.enabled
    assert cfg.enable_registration is False
    assert cfg.signing_key_path == Path("/srv/hs/example.org.signing.key")
    assert cfg.media_store_path == Path("/srv/hs/media_store")
    assert cfg.rc_login_address.burst_count == 5 and cfg.rc_registration.per_second == 0.17
    replication = [l for l in cfg.listeners if "replication" in l.resources]
    assert len(replication) == 1 and replication[0].bind_addresses == ("127.0.0.1",)
    public = [l for l in cfg.listeners if "client" in l.resources]
    assert public[0].port == 8008 and public[0].x_forwarded
    assert cfg.workers.instance_map["main"].port == replication[0].port
    assert cfg.workers.instance_name == "main"
    for secret in (cfg.workers.worker_replication_secret, cfg.registration_shared_secret, cfg.secret_key):
        assert secret and len(secret) >= 40
    assert len({cfg.workers.worker_replication_secret, cfg.registration_shared_secret, cfg.secret_key}) == 3


def test_generated_file_is_private(tmp_path):
    path = generate(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_secrets_are_fresh_on_every_run(tmp_path):
    a = yaml.safe_load(generate(tmp_path, name="a.yaml").read_text())
    b = yaml.safe_load(generate(tmp_path, name="b.yaml").read_text())
    for key in ("worker_replication_secret", "registration_shared_secret", "form_secret"):
        assert a[key] != b[key]


def test_every_key_is_commented(tmp_path):
    lines = generate(tmp_path).read_text().splitlines()
    top_level = [i for i, line in enumerate(lines) if re.match(r"[a-z_]+:", line)]
    assert len(top_level) >= 20
    for i in top_level:
        previous = next(l for l in reversed(lines[:i]) if l.strip())
        assert previous.startswith("#"), f"{lines[i]!r} has no comment above it"
    text = "\n".join(lines)
    assert "NEVER expose it publicly" in text


def test_refuses_to_overwrite_without_force(tmp_path):
    path = generate(tmp_path)
    before = path.read_text()
    with pytest.raises(CommandError, match="already exists"):
        generate(tmp_path)
    assert path.read_text() == before
    generate(tmp_path, "--force")
    assert path.read_text() != before  # new secrets


def test_stdout_output(tmp_path, capsys):
    call_command("generate_config", "--server-name", "matrix.example.org:8448", "--output", "-")
    assert 'server_name: "matrix.example.org:8448"' in capsys.readouterr().out


def test_bad_server_name_is_refused(tmp_path):
    with pytest.raises(CommandError, match="server_name"):
        call_command("generate_config", "--server-name", "not a name", "--output", str(tmp_path / "x.yaml"))
    assert not (tmp_path / "x.yaml").exists()


def test_worker_config_layers_over_generated_shared_config(tmp_path):
    shared = generate(tmp_path)
    worker = tmp_path / "workers" / "persister1.yaml"
    call_command("generate_worker_config", "--worker-name", "persister1", "--app", "synapse.app.generic_worker",
                 "--port", "8084", "--replication-port", "9094", "--output", str(worker), stdout=io.StringIO())
    data = yaml.safe_load(shared.read_text())
    data["instance_map"]["persister1"] = {"host": "127.0.0.1", "port": 9094}
    data["stream_writers"] = {"events": ["persister1"]}
    shared.write_text(yaml.safe_dump(data))
    cfg = load_from_files(str(shared), str(worker), data_dir=str(tmp_path))
    assert cfg.workers.instance_name == "persister1"
    assert cfg.workers.writes("events")
    assert [l.port for l in cfg.workers.worker_listeners] == [8084, 9094]
    assert cfg.workers.worker_listeners[1].resources == ("replication",)


def test_media_worker_config(tmp_path):
    shared = generate(tmp_path)
    worker = tmp_path / "media1.yaml"
    call_command("generate_worker_config", "--worker-name", "media1", "--app", "synapse.app.media_repository",
                 "--port", "8085", "--output", str(worker), stdout=io.StringIO())
    cfg = load_from_files(str(shared), str(worker), data_dir=str(tmp_path))
    assert cfg.workers.worker_app == "synapse.app.media_repository"
    assert cfg.workers.worker_listeners[0].resources == ("media",)


def test_worker_config_refuses_overwrite_and_bad_names(tmp_path):
    worker = tmp_path / "w.yaml"
    args = ["--worker-name", "w1", "--port", "8083", "--output", str(worker)]
    call_command("generate_worker_config", *args, stdout=io.StringIO())
    with pytest.raises(CommandError, match="already exists"):
        call_command("generate_worker_config", *args, stdout=io.StringIO())
    call_command("generate_worker_config", *args, "--force", stdout=io.StringIO())
    with pytest.raises(CommandError, match="reserved"):
        call_command("generate_worker_config", "--worker-name", "main", "--port", "1", "--output", "-")
    with pytest.raises(CommandError, match="65535"):
        call_command("generate_worker_config", "--worker-name", "w2", "--port", "70000", "--output", "-")
