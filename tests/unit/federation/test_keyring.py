"""apps.federation.keyring: remote keys fetched from a loopback key server, verified and cached."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.core.cache import cache
from signedjson.key import encode_verify_key_base64, get_verify_key
from signedjson.sign import sign_json

from apps.federation import keyring, signing
from apps.federation.models import RemoteKeyResponse, RemoteServerKey
from hsproject.config.errors import ConfigError
from hsproject.config.sections import TrustedKeyServer, build
from tests.federation_support import key_response, new_signing_key

DAY = 24 * 3600 * 1000


def now_ms():
    return int(time.time() * 1000)


@pytest.fixture
def remote(tls_server, db):
    """A remote homeserver on loopback (server name 127.0.0.1:<port>) publishing a fresh key;
    `remote.response` builds what it serves (replace it to serve something else)."""
    server = tls_server()
    server.key = new_signing_key("remote1")
    server.key_id = "ed25519:remote1"
    server.response = lambda: key_response(server.server_name, server.key)
    server.routes["/_matrix/key/v2/server"] = lambda rec: (200, {}, server.response())
    return server


def key_requests(server):
    return [r for r in server.requests if r.path == "/_matrix/key/v2/server"]


def test_fetches_verifies_and_caches(remote):
    info = keyring.get_verify_key(remote.server_name, remote.key_id)
    assert info is not None and info.key_bytes == bytes(get_verify_key(remote.key))
    assert len(key_requests(remote)) == 1
    cache.clear()  # not even the refetch guard: the database cache answers
    again = keyring.get_verify_key(remote.server_name, remote.key_id)
    assert again == info
    assert len(key_requests(remote)) == 1
    row = RemoteKeyResponse.objects.get(server_name=remote.server_name)
    assert row.from_server == remote.server_name


def test_validity_is_capped_at_seven_days(remote):
    remote.response = lambda: key_response(remote.server_name, remote.key, valid_until_ts=now_ms() + 30 * DAY)
    info = keyring.get_verify_key(remote.server_name, remote.key_id)
    assert info.valid_until_ts <= now_ms() + 7 * DAY


def test_bad_self_signature_is_rejected(remote):
    impostor = new_signing_key("remote1")  # same key id, different key
    remote.response = lambda: key_response(remote.server_name, remote.key, sign_with=impostor)
    assert keyring.get_verify_key(remote.server_name, remote.key_id) is None
    assert not RemoteServerKey.objects.exists()


def test_response_not_signed_by_its_own_keys_is_rejected(remote):
    def unsigned():
        body = key_response(remote.server_name, remote.key)
        del body["signatures"]
        return body
    remote.response = unsigned
    assert keyring.get_verify_key(remote.server_name, remote.key_id) is None


def test_expired_response_is_rejected(remote):
    remote.response = lambda: key_response(remote.server_name, remote.key, valid_until_ts=now_ms() - 1000)
    assert keyring.get_verify_key(remote.server_name, remote.key_id) is None
    assert not RemoteServerKey.objects.exists()


def test_response_for_another_server_is_rejected(remote):
    remote.response = lambda: key_response("other.example", remote.key)
    assert keyring.get_verify_key(remote.server_name, remote.key_id) is None


def test_unreachable_server_gives_none(db, federation_tls, no_dns):
    assert keyring.get_verify_key("127.0.0.1:1", "ed25519:x") is None


def test_refetch_is_rate_limited(remote):
    assert keyring.get_verify_key(remote.server_name, "ed25519:nope") is None
    assert keyring.get_verify_key(remote.server_name, "ed25519:nope2") is None
    assert len(key_requests(remote)) == 1


def test_expired_cached_key_is_refreshed(remote):
    assert keyring.get_verify_key(remote.server_name, remote.key_id)
    RemoteServerKey.objects.update(valid_until_ts=now_ms() - 1)
    cache.clear()
    info = keyring.get_verify_key(remote.server_name, remote.key_id)
    assert info.valid_until_ts > now_ms()
    assert len(key_requests(remote)) == 2


def test_old_keys_verify_events_not_requests(remote):
    old = new_signing_key("old1")
    expired = now_ms() - DAY
    remote.response = lambda: key_response(remote.server_name, remote.key, old_verify_keys={
        "ed25519:old1": {"key": encode_verify_key_base64(get_verify_key(old)), "expired_ts": expired}})
    assert keyring.verify_key_bytes(remote.server_name, "ed25519:old1", now_ms()) is None
    verify_key, valid_until = keyring.key_lookup(remote.server_name, "ed25519:old1")
    assert bytes(verify_key) == bytes(get_verify_key(old)) and valid_until == expired


def test_key_lookup_of_our_own_key(db):
    key = signing.signing_key()
    verify_key, valid_until = keyring.key_lookup(signing.settings.HS.server_name, signing.key_id(key))
    assert bytes(verify_key) == bytes(get_verify_key(key)) and valid_until > now_ms()
    assert keyring.key_lookup(signing.settings.HS.server_name, "ed25519:other") is None


def test_key_lookup_unknown_server(db, no_dns):
    assert keyring.key_lookup("example.org", "ed25519:x") is None  # refused before any lookup


# --- through a notary (trusted_key_servers) ----------------------------------------------------------------


@pytest.fixture
def notary(tls_server, remote, settings):
    """A notary on loopback that answers for `remote` (which is then made unreachable directly)."""
    server = tls_server()
    server.key = new_signing_key("notary1")
    server.sign_with = server.key
    del remote.routes["/_matrix/key/v2/server"]

    def query(rec):
        resp = key_response(remote.server_name, remote.key)
        return 200, {}, {"server_keys": [sign_json(resp, server.server_name, server.sign_with)]}

    server.routes["/_matrix/key/v2/query"] = query
    settings.HS = settings.HS.replace(trusted_key_servers=(TrustedKeyServer(
        server.server_name, (("ed25519:notary1", encode_verify_key_base64(get_verify_key(server.key))),)),))
    return server


def test_keys_through_a_notary(notary, remote):
    info = keyring.get_verify_key(remote.server_name, remote.key_id)
    assert info is not None and info.key_bytes == bytes(get_verify_key(remote.key))
    assert RemoteServerKey.objects.get(server_name=remote.server_name).from_server == notary.server_name
    (req,) = [r for r in notary.requests if r.path == "/_matrix/key/v2/query"]
    assert req.method == "POST" and req.headers["authorization"].startswith("X-Matrix ")
    # The stored response keeps only the server's own signature.
    stored = RemoteKeyResponse.objects.get(server_name=remote.server_name).response_json
    assert notary.server_name not in stored


def test_notary_answer_with_a_wrong_notary_signature_is_rejected(notary, remote):
    notary.sign_with = new_signing_key("notary1")
    assert keyring.get_verify_key(remote.server_name, remote.key_id) is None


def test_trusted_key_servers_config():
    base = {"server_name": "example.org", "form_secret": "s"}
    cfg = build({**base, "trusted_key_servers": [{"server_name": "notary.example",
                                                  "verify_keys": {"ed25519:a": "abcd"}}]},
                embedded=False, data_directory=Path("/tmp/hs-doc-test"))
    assert cfg.trusted_key_servers == (TrustedKeyServer("notary.example", (("ed25519:a", "abcd"),)),)
    assert build(base, embedded=False, data_directory=Path("/tmp/hs-doc-test")).trusted_key_servers == ()
    with pytest.raises(ConfigError, match="trusted_key_servers\\[0\\].verify_keys"):
        build({**base, "trusted_key_servers": [{"server_name": "notary.example"}]},
              embedded=False, data_directory=Path("/tmp/hs-doc-test"))
