"""docs/configuration.md names every key that hsproject/config reads (with the dotted path an error would use)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from hsproject.config import fields
from hsproject.config.sections import build

DOC = Path(__file__).resolve().parents[3] / "docs" / "configuration.md"


def keys_read(monkeypatch) -> set[str]:
    seen: set[str] = set()
    original = fields.Reader._get

    def recording(self, name, default):
        key = re.sub(r"\[\d+\]", "[]", self.key(name))
        seen.add(re.sub(r"^instance_map\.[^.]+\.", "instance_map.<name>.", key))
        return original(self, name, default)

    monkeypatch.setattr(fields.Reader, "_get", recording)
    listener = {"port": 8008, "resources": [{"names": ["client"]}]}
    for raw in (
        {"server_name": "example.org", "form_secret": "s"},
        {"server_name": "example.org", "form_secret": "s", "database": {"name": "psycopg2", "args": {}},
         "listeners": [listener], "worker_listeners": [listener], "instance_map": {"main": {"port": 9093}},
         "federation_domain_whitelist": []},
    ):
        build(raw, embedded=False, data_directory=Path("/tmp/hs-doc-test"))
    return seen


def test_every_key_is_documented(monkeypatch):
    doc = DOC.read_text()
    documented = set(re.findall(r"`([a-z_<>\[\].]+)`", doc))
    missing = []
    for key in sorted(keys_read(monkeypatch)):
        if key in documented:
            continue
        if key.startswith("worker_listeners[]") and key.replace("worker_listeners", "listeners", 1) in documented:
            continue  # documented once for both listener lists
        missing.append(key)
    assert not missing, f"keys read by hsproject/config but missing from docs/configuration.md: {missing}"


@pytest.mark.parametrize("queue", ["pusher", "appservice", "federation_sender", "background"])
def test_celery_queue_mapping_is_documented(queue):
    assert f"`{queue}`" in DOC.read_text()
