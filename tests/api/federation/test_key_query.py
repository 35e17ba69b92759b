"""The key notary: GET /_matrix/key/v2/query/{serverName} (perspectivesKeyQuery) and
POST /_matrix/key/v2/query (bulkPerspectivesKeyQuery).

Our own keys come signed by us; a remote server's keys (fetched from a loopback key server) come with
its own signature and ours added."""
from __future__ import annotations

import time
from urllib.parse import quote

import pytest
from signedjson.key import decode_verify_key_bytes, get_verify_key
from signedjson.sign import verify_signed_json
from unpaddedbase64 import decode_base64

from apps.federation import signing
from tests.conftest import assert_error
from tests.federation_support import key_response, new_signing_key

QUERY = "/_matrix/key/v2/query"


def _our_verify_key():
    key = signing.signing_key()
    return decode_verify_key_bytes(signing.key_id(key), bytes(get_verify_key(key)))


def _published_key(body, key_id):
    return decode_verify_key_bytes(key_id, decode_base64(body["verify_keys"][key_id]["key"]))


@pytest.fixture
def remote(tls_server, db):
    server = tls_server()
    server.key = new_signing_key("r1")
    server.routes["/_matrix/key/v2/server"] = lambda rec: (200, {}, key_response(server.server_name, server.key))
    return server


def fetches(server):
    return [r for r in server.requests if r.path == "/_matrix/key/v2/server"]


def test_get_our_own_keys(mx, settings):
    resp = mx.get(f"{QUERY}/{settings.HS.server_name}", token=None)
    assert resp.status_code == 200
    (entry,) = resp.json_body["server_keys"]
    assert entry["server_name"] == settings.HS.server_name
    assert set(entry["verify_keys"]) == {signing.signing_key_id()}
    verify_signed_json(entry, settings.HS.server_name, _our_verify_key())


def test_get_remote_keys_resigned_by_us(mx, remote, settings):
    resp = mx.get(f"{QUERY}/{quote(remote.server_name)}", token=None)
    assert resp.status_code == 200, resp.json_body
    (entry,) = resp.json_body["server_keys"]
    assert entry["server_name"] == remote.server_name
    assert set(entry["signatures"]) == {remote.server_name, settings.HS.server_name}
    verify_signed_json(entry, remote.server_name, _published_key(entry, "ed25519:r1"))
    verify_signed_json(entry, settings.HS.server_name, _our_verify_key())
    # Served from the cache the second time.
    mx.get(f"{QUERY}/{quote(remote.server_name)}", token=None)
    assert len(fetches(remote)) == 1


def test_minimum_valid_until_ts_beyond_the_cache_refetches(mx, remote):
    mx.get(f"{QUERY}/{quote(remote.server_name)}", token=None)
    far = int(time.time() * 1000) + 10 * 24 * 3600 * 1000
    from django.core.cache import cache
    cache.clear()  # the refetch guard
    resp = mx.get(f"{QUERY}/{quote(remote.server_name)}?minimum_valid_until_ts={far}", token=None)
    assert resp.status_code == 200 and len(resp.json_body["server_keys"]) == 1  # stale, but all we have
    assert len(fetches(remote)) == 2


def test_unreachable_server_gives_an_empty_list(mx, federation_tls, no_dns):
    for name in ("127.0.0.1:1", "10.0.0.1", "example.org", "not a server name"):
        resp = mx.get(f"{QUERY}/{quote(name)}", token=None)
        assert resp.status_code == 200 and resp.json_body == {"server_keys": []}


def test_bad_remote_response_is_not_served(mx, remote):
    remote.routes["/_matrix/key/v2/server"] = lambda rec: (
        200, {}, key_response(remote.server_name, remote.key, sign_with=new_signing_key("r1")))
    assert mx.get(f"{QUERY}/{quote(remote.server_name)}", token=None).json_body == {"server_keys": []}


def test_bulk_query(mx, remote, settings):
    body = {"server_keys": {
        settings.HS.server_name: {},
        remote.server_name: {"ed25519:r1": {"minimum_valid_until_ts": 0}},
        "127.0.0.1:1": {},
    }}
    resp = mx.post(QUERY, body, token=None)
    assert resp.status_code == 200, resp.json_body
    by_name = {e["server_name"]: e for e in resp.json_body["server_keys"]}
    assert set(by_name) == {settings.HS.server_name, remote.server_name}
    for entry in by_name.values():
        verify_signed_json(entry, settings.HS.server_name, _our_verify_key())


def test_bulk_query_with_no_servers(mx):
    resp = mx.post(QUERY, {"server_keys": {}}, token=None)
    assert resp.status_code == 200 and resp.json_body == {"server_keys": []}


@pytest.mark.parametrize("body,status,errcode", [
    ({}, 400, "M_MISSING_PARAM"),
    ({"server_keys": []}, 400, "M_BAD_JSON"),
    ({"server_keys": {"a.test": []}}, 400, "M_BAD_JSON"),
    ({"server_keys": {"a.test": {"ed25519:x": {"minimum_valid_until_ts": "soon"}}}}, 400, "M_BAD_JSON"),
])
def test_bulk_query_bad_requests(mx, body, status, errcode):
    assert_error(mx.post(QUERY, body, token=None), status, errcode)


def test_bulk_query_not_json(mx):
    assert_error(mx.request("POST", QUERY, raw=b"{", token=None), 400, "M_NOT_JSON")


def test_wrong_methods(mx):
    assert_error(mx.get(QUERY, token=None), 405, "M_UNRECOGNIZED")
    assert_error(mx.post(f"{QUERY}/a.test", {}, token=None), 405, "M_UNRECOGNIZED")
