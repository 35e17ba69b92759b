"""Federation endpoints that need no request signature: the server's keys and its version."""
from __future__ import annotations

import time

from canonicaljson import encode_canonical_json
from django.conf import settings
from django.http import HttpResponse

from apps.core.http import Endpoint

from hsproject import __version__ as IMPLEMENTATION_VERSION

from . import signing

# The implementation reported by GET /_matrix/federation/v1/version.
IMPLEMENTATION_NAME = "hsproject"

# How long other servers may cache our key response (Synapse's `key_refresh_interval`, default 1 day).
# Spec: originating servers should avoid responses that expire in less than an hour.
KEY_VALIDITY_MS = 24 * 60 * 60 * 1000


def now_ms() -> int:
    return int(time.time() * 1000)


def server_keys_response() -> dict:
    """The signed body of GET /_matrix/key/v2/server (spec: definitions/keys.yaml)."""
    body = {
        "server_name": settings.HS.server_name,
        "verify_keys": signing.verify_keys(),
        # Keys we used to sign with; none yet, as key rotation is not supported.
        "old_verify_keys": {},
        "valid_until_ts": now_ms() + KEY_VALIDITY_MS,
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
