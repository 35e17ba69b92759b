"""A real Synapse for interoperability tests: installed from PyPI into a virtualenv of its own on first
use (its dependencies never meet ours), configured for loopback only, started and always stopped.

The virtualenv is `.venv-synapse/<version>/` in the project root (gitignored; `HS_SYNAPSE_CACHE` moves
the directory), made by `python -m venv` + pip with the pinned version below, wheels only when every
dependency has one. A stamp file written last marks a finished install; a lock file beside it keeps two
test runs from building it at once, and pip's output is kept there in install.log. `synapse_python()` raises SynapseUnavailable when it cannot be installed: the caller decides
whether that skips or fails (it fails with CI=true).
"""
from __future__ import annotations

import fcntl
import ipaddress
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import yaml

from .servers import ROOT, running

SYNAPSE_VERSION = "1.163.2"
INSTALL_TIMEOUT_S = 900
# Every IPv4 address outside 127.0.0.0/8, and all of IPv6.
ALL_BUT_LOOPBACK = [str(n) for n in sorted(ipaddress.ip_network("0.0.0.0/0").address_exclude(
    ipaddress.ip_network("127.0.0.0/8")))] + ["::/0"]


class SynapseUnavailable(RuntimeError):
    pass


def cache_dir() -> Path:
    return Path(os.environ.get("HS_SYNAPSE_CACHE") or ROOT / ".venv-synapse")


def _pip(python: Path, args: list[str], log: Path) -> bool:
    with open(log, "ab") as out:
        out.write(f"\n$ pip {' '.join(args)}\n".encode())
        out.flush()
        try:
            done = subprocess.run([str(python), "-m", "pip", "--disable-pip-version-check", *args],
                                  stdout=out, stderr=subprocess.STDOUT, timeout=INSTALL_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            out.write(b"\npip timed out\n")
            return False
    return done.returncode == 0


def synapse_python() -> Path:
    """The interpreter of the Synapse virtualenv, installing Synapse first if needed."""
    cache = cache_dir()
    venv = cache / SYNAPSE_VERSION
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    if stamp.exists():
        return python
    cache.mkdir(parents=True, exist_ok=True)
    lock_path, log = cache / "install.lock", cache / "install.log"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another run may be installing: wait for it, then use its result
        if stamp.exists():
            return python
        shutil.rmtree(venv, ignore_errors=True)  # a half-made one from an interrupted install
        log.write_bytes(b"")
        base = getattr(sys, "_base_executable", None) or sys.executable
        made = subprocess.run([base, "-m", "venv", str(venv)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              timeout=300)
        if made.returncode != 0:
            raise SynapseUnavailable(f"python -m venv {venv} failed: {made.stderr.decode(errors='replace')}")
        requirement = f"matrix-synapse=={SYNAPSE_VERSION}"
        # Wheels only is quick and needs no compiler; a dependency without a wheel for this platform
        # is built from source in the second attempt.
        ok = (_pip(python, ["install", "-q", "--only-binary", ":all:", requirement], log)
              or _pip(python, ["install", "-q", requirement], log))
        if not ok:
            tail = log.read_text(errors="replace")[-3000:]
            raise SynapseUnavailable(f"pip could not install {requirement} into {venv} (log: {log}):\n{tail}")
        stamp.write_text(requirement + "\n")
    return python


def write_signing_key(path: Path) -> None:
    """An ed25519 signing key in Synapse's file format (`ed25519 <version> <base64 seed>`)."""
    from signedjson.key import generate_signing_key, write_signing_keys

    with open(path, "w") as f:
        write_signing_keys(f, [generate_signing_key("a_test")])


def synapse_config(directory: Path, *, federation_port: int, client_port: int, ca_path: Path, cert_path: Path,
                   key_path: Path) -> dict:
    """A Synapse homeserver.yaml for a loopback test: server name `127.0.0.1:<federation_port>` (an IP
    literal: no DNS, no .well-known), federation over TLS on that port with the test CA's certificate,
    the client API on plain HTTP, SQLite, open registration, nothing reaching beyond loopback."""
    write_signing_key(directory / "signing.key")
    loopback = ["127.0.0.1"]
    return {
        "server_name": f"127.0.0.1:{federation_port}",
        "public_baseurl": f"http://127.0.0.1:{client_port}/",
        "pid_file": str(directory / "synapse.pid"),
        "listeners": [
            {"port": federation_port, "bind_addresses": loopback, "type": "http", "tls": True, "x_forwarded": False,
             "resources": [{"names": ["federation"], "compress": False}]},
            {"port": client_port, "bind_addresses": loopback, "type": "http", "tls": False, "x_forwarded": False,
             "resources": [{"names": ["client"], "compress": False}]},
        ],
        "tls_certificate_path": str(cert_path),
        "tls_private_key_path": str(key_path),
        "database": {"name": "sqlite3", "args": {"database": str(directory / "homeserver.db")}},
        "media_store_path": str(directory / "media_store"),
        "signing_key_path": str(directory / "signing.key"),
        "macaroon_secret_key": "synapse-interop-macaroon-secret",
        "form_secret": "synapse-interop-form-secret",
        "report_stats": False,
        "enable_registration": True,
        "enable_registration_without_verification": True,
        # Outbound: the test CA only, and nothing but loopback. The blacklist is every address but
        # 127.0.0.0/8, rather than everything with a whitelisted exception: Synapse checks a server
        # name that is an IP literal against the blacklist alone (its federation client's outer
        # BlocklistingAgentWrapper has no whitelist), so a blacklisted 127.0.0.1 could never be reached.
        # `federation_ip_range_blacklist` is left out: when given, it replaces these two.
        "federation_verify_certificates": True,
        "federation_custom_ca_list": [str(ca_path)],
        "ip_range_blacklist": ALL_BUT_LOOPBACK,
        "ip_range_whitelist": ["127.0.0.0/8"],
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "url_preview_enabled": False,
        "presence": {"enabled": False},
        "enable_metrics": False,
        "rc_message": {"per_second": 1000, "burst_count": 1000},
        "rc_registration": {"per_second": 1000, "burst_count": 1000},
        "rc_login": {"address": {"per_second": 1000, "burst_count": 1000},
                     "account": {"per_second": 1000, "burst_count": 1000},
                     "failed_attempts": {"per_second": 1000, "burst_count": 1000}},
        "rc_joins": {"local": {"per_second": 1000, "burst_count": 1000},
                     "remote": {"per_second": 1000, "burst_count": 1000}},
        "rc_invites": {"per_room": {"per_second": 1000, "burst_count": 1000},
                       "per_user": {"per_second": 1000, "burst_count": 1000},
                       "per_issuer": {"per_second": 1000, "burst_count": 1000}},
    }


@contextmanager
def running_synapse(python: Path, directory: Path, config: dict):
    """Synapse started with `config`; yields its client API's base URL; stopped afterwards."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "homeserver.yaml"
    path.write_text(yaml.safe_dump(config))
    client_port = next(listener["port"] for listener in config["listeners"] if not listener.get("tls"))
    cmd = [str(python), "-m", "synapse.app.homeserver", "-c", str(path)]
    with running(cmd, {}, client_port, directory / "synapse.log") as base:
        yield base
