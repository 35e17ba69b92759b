"""Lookups of other servers' users, aliases and keys from the client API: the remote server is asked
over federation (signed requests) and its answer passed on; an unreachable server is a clear error."""
from __future__ import annotations

import json
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from apps.core.errors import Codes
from tests.conftest import assert_error
from tests.federation_support import json_route

API = "/_matrix/client/v3"
FED = "/_matrix/federation/v1"


def _query(rec) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(rec.path).query).items()}


def test_remote_profile_is_asked_of_its_server(alice, remote_server):
    server, remote = remote_server
    user = remote.user("carol")
    server.routes[f"{FED}/query/profile"] = lambda rec: (
        200, {}, {"displayname": "Carol", "avatar_url": "mxc://x/y"} if "field" not in _query(rec)
        else {"displayname": "Carol"})
    resp = alice.get(f"{API}/profile/{user}/displayname")
    assert resp.status_code == 200 and resp.json_body == {"displayname": "Carol"}
    rec = server.requests[-1]
    assert _query(rec) == {"user_id": user, "field": "displayname"}
    assert rec.headers["authorization"].startswith("X-Matrix ")
    assert_error(alice.get(f"{API}/profile/{user}/avatar_url"), 404, Codes.NOT_FOUND)
    assert _query(server.requests[-1]) == {"user_id": user, "field": "avatar_url"}

    resp = alice.get(f"{API}/profile/{user}")
    assert resp.status_code == 200, resp.json_body
    assert resp.json_body == {"displayname": "Carol", "avatar_url": "mxc://x/y"}
    assert _query(server.requests[-1]) == {"user_id": user}


def test_unknown_remote_profile_is_404(alice, remote_server):
    server, remote = remote_server
    server.routes[f"{FED}/query/profile"] = json_route({"errcode": "M_NOT_FOUND", "error": "no"}, 404)
    assert_error(alice.get(f"{API}/profile/{remote.user('nobody')}"), 404, Codes.NOT_FOUND)


def test_remote_alias_is_resolved_by_its_server(alice, remote_server):
    server, remote = remote_server
    alias = f"#lounge:{remote.server_name}"
    server.routes[f"{FED}/query/directory"] = json_route({"room_id": "!abc:elsewhere", "servers": [remote.server_name]})
    resp = alice.get(f"{API}/directory/room/{quote(alias)}")
    assert resp.status_code == 200, resp.json_body
    assert resp.json_body == {"room_id": "!abc:elsewhere", "servers": [remote.server_name]}
    assert _query(server.requests[-1]) == {"room_alias": alias}

    # (Another alias: the answer above is kept a while, apps.federation.query_cache.)
    gone = f"#gone:{remote.server_name}"
    server.routes[f"{FED}/query/directory"] = json_route({"errcode": "M_NOT_FOUND", "error": "no"}, 404)
    assert_error(alice.get(f"{API}/directory/room/{quote(gone)}"), 404, Codes.NOT_FOUND)


def test_remote_device_keys_are_queried_and_claimed(alice, remote_server):
    server, remote = remote_server
    carol = remote.user("carol")
    device = {"user_id": carol, "device_id": "DEV", "algorithms": ["m.olm.v1.curve25519-aes-sha2"],
              "keys": {"ed25519:DEV": "abc", "curve25519:DEV": "def"}, "signatures": {carol: {"ed25519:DEV": "s"}}}
    master = {"user_id": carol, "usage": ["master"], "keys": {"ed25519:M": "M"}}
    bodies = []

    def keys_query(rec):
        bodies.append(json.loads(rec.body))
        # A server speaks for its own users only: the stranger's keys are dropped.
        return 200, {}, {"device_keys": {carol: {"DEV": device}, "@x:other.test": {"D": device}},
                         "master_keys": {carol: master}}

    server.routes[f"{FED}/user/keys/query"] = keys_query
    resp = alice.post(f"{API}/keys/query", {"device_keys": {carol: [], "@dan:127.0.0.1:1": []}})
    assert resp.status_code == 200, resp.json_body
    body = resp.json_body
    assert bodies == [{"device_keys": {carol: []}}]
    assert body["device_keys"] == {carol: {"DEV": device}}
    assert body["master_keys"] == {carol: master}
    assert set(body["failures"]) == {"127.0.0.1:1"}

    otk = {"signed_curve25519:AAAA": {"key": "k", "signatures": {carol: {"ed25519:DEV": "s"}}}}
    server.routes[f"{FED}/user/keys/claim"] = json_route({"one_time_keys": {carol: {"DEV": otk}}})
    resp = alice.post(f"{API}/keys/claim", {"one_time_keys": {carol: {"DEV": "signed_curve25519"}}})
    assert resp.status_code == 200, resp.json_body
    assert resp.json_body == {"one_time_keys": {carol: {"DEV": otk}}, "failures": {}}
    assert json.loads(server.requests[-1].body) == {"one_time_keys": {carol: {"DEV": "signed_curve25519"}}}


@pytest.mark.parametrize("path", ["profile/@carol:{dead}", "profile/@carol:{dead}/displayname",
                                  "directory/room/%23lounge:{dead}"])
def test_unreachable_server_is_a_clear_error(alice, remote_server, path):
    server, _ = remote_server
    dead = server.server_name
    server.close()  # nothing listens there any more
    resp = alice.get(f"{API}/{path.format(dead=dead)}")
    assert_error(resp, 502, Codes.UNKNOWN)


def test_unreachable_server_is_a_key_failure(alice, remote_server):
    server, remote = remote_server
    carol = remote.user("carol")
    server.close()
    resp = alice.post(f"{API}/keys/claim", {"one_time_keys": {carol: {"DEV": "signed_curve25519"}}})
    assert resp.status_code == 200 and resp.json_body["one_time_keys"] == {}
    assert set(resp.json_body["failures"]) == {remote.server_name}
