"""The server signing key file: generated on first use, reused after, Synapse's format, errors named."""
import os
import stat
import threading

import pytest
from signedjson.key import get_verify_key, read_signing_keys
from signedjson.sign import verify_signed_json

from apps.federation import signing


@pytest.fixture
def key_path(tmp_path, settings):
    path = tmp_path / "new" / "dir" / "server.signing.key"
    settings.HS = settings.HS.replace(signing_key_path=path)
    signing._clear_cache_for_tests()
    yield path
    signing._clear_cache_for_tests()


def test_generated_on_first_use_with_private_mode(key_path):
    assert not key_path.exists()
    key = signing.signing_key()
    assert key_path.exists()
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    assert signing.key_id(key).startswith("ed25519:a_")
    # Synapse's format: one `ed25519 <version> <seed>` line.
    (line,) = key_path.read_text().splitlines()
    alg, version, _seed = line.split()
    assert (alg, version) == ("ed25519", key.version)
    # No temporary file left behind.
    assert sorted(p.name for p in key_path.parent.iterdir()) == [key_path.name]


def test_reused_from_file(key_path):
    first = signing.signing_key()
    signing._clear_cache_for_tests()
    again = signing.signing_key()
    assert again.encode() == first.encode() and again.version == first.version


def test_cached_per_process(key_path):
    first = signing.signing_key()
    key_path.unlink()
    assert signing.signing_key() is first


def test_existing_synapse_key_file_is_used(key_path):
    key_path.parent.mkdir(parents=True)
    # The spec's test-vector seed, as Synapse would store it.
    key_path.write_text("ed25519 1 YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1\n\n")
    assert signing.signing_key_id() == "ed25519:1"
    (expected,) = read_signing_keys(["ed25519 1 YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"])
    assert signing.signing_key().encode() == expected.encode()


@pytest.mark.parametrize("content", ["", "garbage\n", "ed25519 1 !!!notbase64!!!\n", "ed25519 1 AAAA\n", "\xff\xfe"])
def test_unreadable_key_file_is_a_configuration_error(key_path, content):
    key_path.parent.mkdir(parents=True)
    key_path.write_bytes(content.encode("latin-1"))
    with pytest.raises(signing.SigningKeyError, match="signing_key_path"):
        signing.signing_key()


def test_concurrent_first_use_yields_one_key(key_path):
    results = []

    def create():
        results.append(signing.create_key_file(key_path))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({(k.version, k.encode()) for k in results}) == 1
    assert len(key_path.read_text().splitlines()) == 1


def test_sign_uses_server_name_and_key(key_path, settings):
    obj = signing.sign({"a": 1, "unsigned": {"age": 5}})
    key = signing.signing_key()
    assert set(obj["signatures"]) == {settings.HS.server_name}
    assert obj["unsigned"] == {"age": 5}
    verify_signed_json(obj, settings.HS.server_name, get_verify_key(key))
    assert signing.verify_keys() == {signing.key_id(key): {"key": signing.encode_verify_key_base64(get_verify_key(key))}}


def test_startup_check(key_path):
    from apps.federation.checks import check_signing_key

    assert check_signing_key() == []  # missing: generated on first use
    signing.signing_key()
    assert check_signing_key() == []
    key_path.write_text("not a key\n")
    (err,) = check_signing_key()
    assert err.id == "hsproject.E100" and "signing_key_path" in err.msg
