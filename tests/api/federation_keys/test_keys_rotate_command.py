"""`manage.py generate_signing_key [--rotate]`: a new key at signing_key_path, the previous one kept
and printed as the `old_signing_keys` entry, which the configuration accepts; once configured, the
server publishes both keys and still verifies what it signed with the previous one."""
from __future__ import annotations

import io
import os
import stat
import time
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command
from signedjson.key import get_verify_key, read_signing_keys

from apps.federation import keyring, signing
from apps.rooms.event_signing import SignatureError, sign_event, verify_event_signatures
from apps.rooms.room_versions import get_room_version
from hsproject.config.sections import build

HOUR = 3600 * 1000


@pytest.fixture
def key_path(tmp_path, settings):
    path = tmp_path / "keys" / "server.signing.key"
    settings.HS = settings.HS.replace(signing_key_path=path)
    signing._clear_cache_for_tests()
    return path


def run(*args) -> str:
    out = io.StringIO()
    call_command("generate_signing_key", *args, stdout=out)
    return out.getvalue()


def printed_entry(output: str) -> dict:
    """The YAML the command prints under `old_signing_keys:`, as a configuration would hold it."""
    lines = output.splitlines()
    start = lines.index("old_signing_keys:")
    return yaml.safe_load("\n".join(lines[start:start + 2]))["old_signing_keys"]


def test_creates_a_key_once(key_path):
    out = run()
    assert key_path.exists() and stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    key = signing.read_key_file(key_path)
    assert signing.key_id(key) in out
    content = key_path.read_text()
    assert "left unchanged" in run()
    assert key_path.read_text() == content


def test_rotate_writes_a_new_key_and_prints_the_old_one(key_path, settings, mx):
    run()
    old = signing.read_key_file(key_path)
    old_content = key_path.read_text()
    before = int(time.time() * 1000)
    out = run("--rotate")

    new = signing.read_key_file(key_path)
    assert signing.key_id(new) != signing.key_id(old)
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    (line,) = key_path.read_text().splitlines()  # Synapse's format, the new key only
    assert line.split()[:2] == ["ed25519", new.version]
    backup = key_path.with_name(f"{key_path.name}.old.{old.version}")
    assert backup.read_text() == old_content
    assert str(backup) in out
    assert not [p for p in key_path.parent.iterdir() if p.name.startswith(".signing-key-")]

    entry = printed_entry(out)
    (old_id,) = entry
    assert old_id == signing.key_id(old)
    assert before <= entry[old_id]["expired_ts"] <= int(time.time() * 1000)

    # The printed entry is a valid configuration, which the server then publishes.
    cfg = build({"server_name": "example.org", "form_secret": "s", "old_signing_keys": entry},
                embedded=False, data_directory=Path("/tmp/hs-doc-test"))
    settings.HS = settings.HS.replace(old_signing_keys=cfg.old_signing_keys)
    signing._clear_cache_for_tests()  # what a restart does
    body = mx.get("/_matrix/key/v2/server", token=None).json_body
    assert list(body["verify_keys"]) == [signing.key_id(new)]
    assert body["old_verify_keys"] == entry
    (expected,) = read_signing_keys([old_content.strip()])
    assert bytes(get_verify_key(expected)) == bytes(get_verify_key(old))


def test_our_events_signed_before_the_rotation_still_verify(key_path, settings, db):
    run()
    old = signing.read_key_file(key_path)
    me = settings.HS.server_name
    rv = get_room_version("10")

    def our_event(ts, key):
        pdu = {"type": "m.room.message", "room_id": f"!r:{me}", "sender": f"@alice:{me}",
               "content": {"body": "hi"}, "origin_server_ts": ts, "depth": 3, "prev_events": [],
               "auth_events": []}
        return sign_event(pdu, rv, me, key)

    out = run("--rotate")
    entry = printed_entry(out)
    expired = entry[signing.key_id(old)]["expired_ts"]
    cfg = build({"server_name": "example.org", "form_secret": "s", "old_signing_keys": entry},
                embedded=False, data_directory=Path("/tmp/hs-doc-test"))
    settings.HS = settings.HS.replace(old_signing_keys=cfg.old_signing_keys)
    signing._clear_cache_for_tests()

    verify_event_signatures(our_event(expired - HOUR, old), rv, keyring.key_lookup)
    with pytest.raises(SignatureError):
        verify_event_signatures(our_event(expired + HOUR, old), rv, keyring.key_lookup)
    verify_event_signatures(our_event(expired + HOUR, signing.signing_key()), rv, keyring.key_lookup)
    # Never for requests.
    assert keyring.verify_key_bytes(me, signing.key_id(old), expired - HOUR) is None


def test_rotate_without_a_key_is_an_error(key_path):
    with pytest.raises(CommandError, match="no key to rotate"):
        run("--rotate")
    assert not key_path.exists()


def test_rotate_refuses_an_unreadable_key_file(key_path):
    key_path.parent.mkdir(parents=True)
    key_path.write_text("garbage\n")
    with pytest.raises(CommandError, match="signing_key_path"):
        run("--rotate")
    assert key_path.read_text() == "garbage\n"
