"""Federation endpoints that need no request signature: the server's keys, the key notary and the version."""
from __future__ import annotations

import time

from canonicaljson import encode_canonical_json
from django.conf import settings
from django.http import HttpResponse

from apps.core.errors import Codes, MatrixError
from apps.core.http import Endpoint, field, json_body, query_int

from hsproject import __version__ as IMPLEMENTATION_VERSION

from . import discovery, keyring, signing

# The implementation reported by GET /_matrix/federation/v1/version.
IMPLEMENTATION_NAME = "hsproject"

def now_ms() -> int:
    return int(time.time() * 1000)


def server_keys_response() -> dict:
    """The signed body of GET /_matrix/key/v2/server (spec: definitions/keys.yaml)."""
    body = {
        "server_name": settings.HS.server_name,
        "verify_keys": signing.verify_keys(),
        # Keys we used to sign with (`old_signing_keys`): they verify events signed before `expired_ts`.
        "old_verify_keys": signing.old_verify_keys(),
        # How long it may be cached: `key_refresh_interval` (Synapse's key, default 1 day).
        "valid_until_ts": signing.valid_until_ts(now_ms()),
    }
    return signing.sign(body)


class GetServerKeyView(Endpoint):
    """GET /_matrix/key/v2/server

    Canonical JSON on the wire, so that a notary can re-serve the bytes as they were signed."""

    operation_id = "getServerKey"

    def handle(self, request, **kwargs):
        return HttpResponse(encode_canonical_json(server_keys_response()), content_type="application/json")


class GetVersionView(Endpoint):
    """GET /_matrix/federation/v1/version"""

    operation_id = "getVersion"

    def handle(self, request, **kwargs):
        return {"server": {"name": IMPLEMENTATION_NAME, "version": IMPLEMENTATION_VERSION}}


def _notary_entry(server_name: str, key_ids: list[str], minimum_valid_until_ts: int | None) -> dict | None:
    """One element of `server_keys`: our own response, or a remote one re-signed by us as notary."""
    if server_name == settings.HS.server_name:
        return server_keys_response()
    try:
        discovery.split_server_name(server_name)
    except discovery.InvalidServerName:
        return None
    resp = keyring.notary_response(server_name, key_ids, minimum_valid_until_ts)
    return signing.sign(resp) if resp is not None else None


def _notary_response(entries: list[dict]) -> HttpResponse:
    return HttpResponse(encode_canonical_json({"server_keys": entries}), content_type="application/json")


class PerspectivesKeyQueryView(Endpoint):
    """GET /_matrix/key/v2/query/{serverName}

    No authentication (spec); a server we cannot reach and have no cached keys for gives an empty list."""

    operation_id = "perspectivesKeyQuery"

    def handle(self, request, server_name: str, **kwargs):
        min_valid = query_int(request, "minimum_valid_until_ts", None)
        entry = _notary_entry(server_name, [], min_valid)
        return _notary_response([entry] if entry is not None else [])


class BulkPerspectivesKeyQueryView(Endpoint):
    """POST /_matrix/key/v2/query

    `server_keys: {server: {key_id: {minimum_valid_until_ts}}}`; the largest minimum asked for a
    server applies to all its keys. At most MAX_SERVERS_PER_QUERY servers per request."""

    operation_id = "bulkPerspectivesKeyQuery"
    MAX_SERVERS_PER_QUERY = 100

    def handle(self, request, **kwargs):
        query = field(json_body(request), "server_keys", dict, required=True)
        if len(query) > self.MAX_SERVERS_PER_QUERY:
            raise MatrixError(Codes.INVALID_PARAM,
                              f"At most {self.MAX_SERVERS_PER_QUERY} servers may be queried at once", 400)
        entries = []
        for server_name, criteria in query.items():
            if not isinstance(criteria, dict):
                raise MatrixError(Codes.BAD_JSON, f"server_keys.{server_name} must be an object", 400)
            minimums = []
            for key_id, c in criteria.items():
                ts = c.get("minimum_valid_until_ts") if isinstance(c, dict) else None
                if ts is not None and (isinstance(ts, bool) or not isinstance(ts, int)):
                    raise MatrixError(Codes.BAD_JSON, "minimum_valid_until_ts must be an integer", 400)
                if ts is not None:
                    minimums.append(ts)
            entry = _notary_entry(server_name, list(criteria), max(minimums) if minimums else None)
            if entry is not None:
                entries.append(entry)
        return _notary_response(entries)
