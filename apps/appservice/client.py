"""The homeserver -> application service API (spec: application-service API), over the outbound client.

Every request carries `Authorization: Bearer <hs_token>` (spec v1.4, "Authorisation"). Requests go
through `apps.core.outbound.configured_destination_client()`: the service's URL comes from the admin's
registration file, so the IP range blacklist (which guards URLs chosen by users and remote servers)
does not apply to it.

    PUT  {url}/_matrix/app/v1/transactions/{txnId}   push events        put_transaction
    POST {url}/_matrix/app/v1/ping                   ping               ping
    GET  {url}/_matrix/app/v1/users/{userId}         query a user       query_user
    GET  {url}/_matrix/app/v1/rooms/{roomAlias}      query an alias     query_alias
"""
from __future__ import annotations

import logging
from urllib.parse import quote

import httpx

from apps.core import outbound
from hsproject.config.appservices import AppServiceRegistration

logger = logging.getLogger(__name__)

# Seconds. A transaction may carry 100 events for the service to process; a query blocks a client.
TRANSACTION_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
QUERY_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
PING_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class TransactionFailed(Exception):
    """The service did not acknowledge a transaction (no connection, timeout or a non-2xx answer)."""


def _url(service: AppServiceRegistration, path: str) -> str:
    assert service.url is not None
    return f"{service.url}/_matrix/app/v1/{path}"


def _headers(service: AppServiceRegistration) -> dict[str, str]:
    return {"Authorization": f"Bearer {service.hs_token}"}


def put_transaction(service: AppServiceRegistration, txn_id: int | str, body: dict) -> None:
    """Send one transaction; raises TransactionFailed unless the service answered 2xx."""
    try:
        resp = outbound.configured_destination_client().put(
            _url(service, f"transactions/{quote(str(txn_id), safe='')}"), json=body, headers=_headers(service),
            timeout=TRANSACTION_TIMEOUT)
    except httpx.HTTPError as e:
        raise TransactionFailed(f"{type(e).__name__}: {e}") from e
    if not 200 <= resp.status_code < 300:
        raise TransactionFailed(f"status {resp.status_code}: {resp.text[:200]}")


def ping(service: AppServiceRegistration, transaction_id: str | None) -> httpx.Response:
    """POST /_matrix/app/v1/ping; httpx errors propagate for the caller to map onto the spec's codes."""
    body = {} if transaction_id is None else {"transaction_id": transaction_id}
    return outbound.configured_destination_client().post(_url(service, "ping"), json=body, headers=_headers(service),
                                                          timeout=PING_TIMEOUT)


def _query(service: AppServiceRegistration, path: str) -> bool:
    """A user or alias query: True when the service answered 200 (it says the entity now exists)."""
    try:
        resp = outbound.configured_destination_client().get(_url(service, path), headers=_headers(service),
                                                            timeout=QUERY_TIMEOUT)
    except httpx.HTTPError as e:
        logger.info("query %s to application service %s failed: %s", path, service.id, e)
        return False
    return resp.status_code == 200


def query_user(service: AppServiceRegistration, user_id: str) -> bool:
    return _query(service, f"users/{quote(user_id, safe='')}")


def query_alias(service: AppServiceRegistration, alias: str) -> bool:
    return _query(service, f"rooms/{quote(alias, safe='')}")


def thirdparty_get(service: AppServiceRegistration, path: str, params: dict[str, str] | None = None):
    """GET {url}/_matrix/app/v1/thirdparty/{path}: the JSON answer on 200, else None (the service has
    nothing, is down or answered badly: a lookup asks every service and keeps what it gets)."""
    try:
        resp = outbound.configured_destination_client().get(_url(service, f"thirdparty/{path}"), params=params or {},
                                                            headers=_headers(service), timeout=QUERY_TIMEOUT)
    except httpx.HTTPError as e:
        logger.info("third-party lookup %s at application service %s failed: %s", path, service.id, e)
        return None
    if resp.status_code != 200:
        return None
    try:
        return resp.json()
    except ValueError:
        return None
