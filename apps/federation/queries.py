"""Questions this server asks other servers on behalf of its clients (spec: server-server API,
"Querying for information", "End-to-End Encryption"):

    profile(user_id, field)            GET  /_matrix/federation/v1/query/profile
    directory(alias)                   GET  /_matrix/federation/v1/query/directory
    query_device_keys({user: [dev]})   POST /_matrix/federation/v1/user/keys/query   (one per server)
    claim_one_time_keys({user: {...}}) POST /_matrix/federation/v1/user/keys/claim   (one per server)

Every request goes through `client` (signed, guarded by the IP ranges and the federation whitelist).
What the other server answers is only taken for identifiers of that server: a server speaks for its
own users and aliases, never for another's.

A lookup of one thing (profile, alias) turns a refusal of the other server into the Matrix error it
sent (404 stays 404), and a server that cannot be reached into 502 M_UNKNOWN. Their answers, and their
404 M_NOT_FOUND refusals, are kept a short while in the shared cache (apps.federation.query_cache).
Key queries and claims keep going: a server that fails is listed under `failures` (the client-server
API's shape).
"""
from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from apps.core.errors import Codes, MatrixError
from apps.core.ids import server_name_of

from . import client, query_cache

logger = logging.getLogger(__name__)

# Spec (queryKeys): the client's `timeout` defaults to 10 seconds for the remote servers.
KEYS_TIMEOUT_MS = 10_000
LOOKUP_TIMEOUT = 20.0


def as_matrix_error(e: client.FederationError, what: str) -> MatrixError:
    """The client-facing error for a failed request to one server."""
    if e.status == 404:
        return MatrixError(Codes.NOT_FOUND, f"{what} not found", 404)
    if e.status is not None and 400 <= e.status < 500 and e.errcode:
        message = e.body.get("error") if isinstance(e.body.get("error"), str) else f"{what}: refused by {e.destination}"
        return MatrixError(e.errcode, message, e.status)
    return MatrixError(Codes.UNKNOWN, f"{what}: {e.destination} could not be reached or failed", 502)


# --- single lookups ------------------------------------------------------------------------------------

def _lookup_error(e: client.FederationError, what: str) -> MatrixError:
    """`as_matrix_error`, but a 404 M_NOT_FOUND as the answer `query_cache` keeps."""
    if e.status == 404 and e.errcode == Codes.NOT_FOUND:
        return query_cache.NotFound(f"{what} not found")
    return as_matrix_error(e, what)


def profile(user_id: str, field: str | None = None) -> dict[str, Any]:
    """The profile of a user of another server (one field of it when `field` is given), kept a while."""
    return query_cache.profile(user_id, field, lambda: _fetch_profile(user_id, field))


def _fetch_profile(user_id: str, field: str | None) -> dict[str, Any]:
    server = server_name_of(user_id)
    query = {"user_id": user_id, **({"field": field} if field is not None else {})}
    try:
        data = client.get_json(server, "/_matrix/federation/v1/query/profile", query=query, timeout=LOOKUP_TIMEOUT)
    except client.FederationError as e:
        raise _lookup_error(e, "Profile") from None
    if not isinstance(data, dict):
        raise MatrixError(Codes.UNKNOWN, f"{server} answered a profile that is not an object", 502)
    if field is not None:
        data = {field: data[field]} if field in data else {}
    return data


def directory(alias: str) -> dict[str, Any]:
    """{room_id, servers} of an alias of another server, as that server answers (kept a while)."""
    return query_cache.directory(alias, lambda: _fetch_directory(alias))


def _fetch_directory(alias: str) -> dict[str, Any]:
    server = server_name_of(alias)
    try:
        data = client.get_json(server, "/_matrix/federation/v1/query/directory", query={"room_alias": alias},
                               timeout=LOOKUP_TIMEOUT)
    except client.FederationError as e:
        raise _lookup_error(e, f"Room alias {alias}") from None
    room_id = data.get("room_id") if isinstance(data, dict) else None
    servers = data.get("servers") if isinstance(data, dict) else None
    if not isinstance(room_id, str) or not room_id.startswith("!"):
        raise MatrixError(Codes.UNKNOWN, f"{server} answered no room ID for {alias}", 502)
    servers = [s for s in servers if isinstance(s, str)] if isinstance(servers, list) else []
    return {"room_id": room_id, "servers": list(dict.fromkeys(servers or [server]))}


# --- end-to-end keys -----------------------------------------------------------------------------------

def _by_server(wanted: dict[str, Any]) -> dict[str, dict[str, Any]]:
    grouped: dict[str, dict[str, Any]] = defaultdict(dict)
    for user_id, value in wanted.items():
        grouped[server_name_of(user_id)][user_id] = value
    return grouped


def _failure(e: client.FederationError) -> dict[str, Any]:
    return {"status": e.status or 503, "message": str(e)}


def _own(server: str, users: Any) -> dict[str, Any]:
    """The entries of a {user_id: ...} answer that are users of `server`."""
    if not isinstance(users, dict):
        return {}
    return {u: v for u, v in users.items() if isinstance(u, str) and isinstance(v, dict)
            and ":" in u and server_name_of(u) == server}


def query_device_keys(wanted: dict[str, list[str]], timeout_ms: int = KEYS_TIMEOUT_MS) -> dict[str, Any]:
    """Device and cross-signing keys of users of other servers: {device_keys, master_keys,
    self_signing_keys, failures}."""
    out: dict[str, Any] = {"device_keys": {}, "master_keys": {}, "self_signing_keys": {}, "failures": {}}
    for server, users in _by_server(wanted).items():
        try:
            data = client.post_json(server, "/_matrix/federation/v1/user/keys/query", {"device_keys": users},
                                    timeout=timeout_ms / 1000)
        except client.FederationError as e:
            logger.info("keys/query at %s failed: %s", server, e)
            out["failures"][server] = _failure(e)
            continue
        if not isinstance(data, dict):
            out["failures"][server] = {"status": 502, "message": f"{server} answered no object"}
            continue
        for section in ("device_keys", "master_keys", "self_signing_keys"):
            out[section].update(_own(server, data.get(section)))
    return out


def claim_one_time_keys(wanted: dict[str, dict[str, str]], timeout_ms: int = KEYS_TIMEOUT_MS) -> dict[str, Any]:
    """One-time keys claimed from other servers: {one_time_keys, failures}."""
    out: dict[str, Any] = {"one_time_keys": {}, "failures": {}}
    for server, users in _by_server(wanted).items():
        try:
            data = client.post_json(server, "/_matrix/federation/v1/user/keys/claim", {"one_time_keys": users},
                                    timeout=timeout_ms / 1000)
        except client.FederationError as e:
            logger.info("keys/claim at %s failed: %s", server, e)
            out["failures"][server] = _failure(e)
            continue
        out["one_time_keys"].update(_own(server, data.get("one_time_keys") if isinstance(data, dict) else None))
    return out
