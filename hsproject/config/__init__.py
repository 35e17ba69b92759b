"""Loads the homeserver configuration once per process.

`HS_CONFIG` names the shared homeserver YAML; `HS_WORKER_CONFIG` names this process's worker YAML, whose
keys are laid over the shared ones. With neither, the embedded default applies: SQLite in the data
directory (`HS_DATA_DIR`, default `./data`), server name `localhost:8008`, one process writing every stream.
"""
from __future__ import annotations

import os
from pathlib import Path

import yaml

from .errors import ConfigError
from .sections import HomeserverConfig, build

__all__ = ["ConfigError", "HomeserverConfig", "load", "load_from_files"]


def _read_yaml(path: str, what: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except FileNotFoundError:
        raise ConfigError(what, f"file {path!r} does not exist") from None
    except yaml.YAMLError as e:
        raise ConfigError(what, f"file {path!r} is not valid YAML: {e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(what, f"file {path!r} must hold a mapping of keys to values")
    return data


def load_from_files(shared: str | None, worker: str | None, data_dir: str | None = None) -> HomeserverConfig:
    raw: dict = {}
    if shared:
        raw.update(_read_yaml(shared, "HS_CONFIG"))
    if worker:
        raw.update(_read_yaml(worker, "HS_WORKER_CONFIG"))
    embedded = not shared
    data_directory = Path(data_dir or os.environ.get("HS_DATA_DIR") or "data").resolve()
    return build(raw, embedded=embedded, data_directory=data_directory)


def load() -> HomeserverConfig:
    return load_from_files(os.environ.get("HS_CONFIG") or None, os.environ.get("HS_WORKER_CONFIG") or None)
