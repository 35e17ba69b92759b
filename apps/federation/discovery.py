"""Server name resolution: where to connect for a server name, and which Host and TLS name to use.

Spec: server-server API, "Resolving server names" (steps below refer to it):
  1. IP literal: that address, the given port or 8448; Host is the server name.
  2. hostname with an explicit port: the hostname and port; Host is the server name.
  3. otherwise GET https://<hostname>/.well-known/matrix/server (redirects followed, cached: the
     response's max-age capped to 5 minutes..48 hours, default 24 hours; an invalid response for an
     hour, an unreachable server for 2 minutes). A valid `m.server` is resolved as in 3.1-3.5:
     IP literal / explicit port / SRV `_matrix-fed._tcp` / deprecated SRV `_matrix._tcp` / port 8448,
     with Host and TLS name of the delegated name.
  4.-6. no valid .well-known: SRV `_matrix-fed._tcp.<hostname>`, then `_matrix._tcp.<hostname>`, then
     the hostname on port 8448.

Nothing here resolves A/AAAA records: the result names a host, and the outbound client resolves and
checks it (apps.core.outbound), once, at connection time. SRV lookups (`lookup_srv`, dnspython) and the
.well-known request only happen when `outbound_name_resolution` is on, except that `localhost` may
serve a .well-known (loopback, no DNS). With it off, a hostname resolves to itself on port 8448 and
the outbound guard refuses it, so nothing is looked up.
"""
from __future__ import annotations

import ipaddress
import json
import logging
import random
import re
from dataclasses import dataclass

import httpx
from django.core.cache import cache

from apps.core import outbound

logger = logging.getLogger(__name__)

DEFAULT_PORT = 8448
# The .well-known is fetched with https on this port; tests point it at a loopback test server.
WELL_KNOWN_PORT = 443
WELL_KNOWN_TIMEOUT = httpx.Timeout(10.0)
WELL_KNOWN_MAX_BYTES = 50 * 1024
WELL_KNOWN_DEFAULT_CACHE_S = 24 * 3600
WELL_KNOWN_MIN_CACHE_S = 5 * 60
WELL_KNOWN_MAX_CACHE_S = 48 * 3600
WELL_KNOWN_INVALID_CACHE_S = 3600
WELL_KNOWN_DOWN_CACHE_S = 2 * 60
SRV_TIMEOUT_S = 10.0

_SERVER_NAME_RE = re.compile(
    r"(?P<host>\[[0-9A-Fa-f:.]{2,45}\]|[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[A-Za-z0-9\-.]{1,255})(?::(?P<port>[0-9]{1,5}))?"
)


class InvalidServerName(ValueError):
    pass


@dataclass(frozen=True)
class ServerAddress:
    """Where to send requests for a server name.

    `connect_host` is what the TCP connection goes to (an IP literal or a hostname the outbound guard
    resolves); `tls_server_name` is the name in the URL, used for TLS SNI and certificate checks (and
    for connection pooling); `host_header` is the HTTP Host header."""

    connect_host: str
    port: int
    host_header: str
    tls_server_name: str

    def url(self, path_and_query: str) -> str:
        host = self.tls_server_name
        if ":" in host:
            host = f"[{host}]"  # IPv6 literal
        return f"https://{host}:{self.port}{path_and_query}"

    def override(self) -> dict[tuple[str, int], str]:
        """The `outbound.connect_override` mapping that sends the connection to `connect_host`."""
        if self.connect_host == self.tls_server_name:
            return {}
        return {(self.tls_server_name, self.port): self.connect_host}


@dataclass(frozen=True)
class SrvRecord:
    priority: int
    weight: int
    target: str
    port: int


def split_server_name(server_name: str) -> tuple[str, int | None]:
    """(hostname or IP literal without brackets, port or None); InvalidServerName if not a server name."""
    m = _SERVER_NAME_RE.fullmatch(server_name or "")
    if not m:
        raise InvalidServerName(f"{server_name!r} is not a valid server name")
    host, port = m.group("host"), m.group("port")
    if host.startswith("["):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise InvalidServerName(f"{server_name!r} has an invalid IPv6 literal") from None
    port_n = int(port) if port else None
    if port_n is not None and not 1 <= port_n <= 65535:
        raise InvalidServerName(f"{server_name!r} has a port outside 1-65535")
    return host, port_n


def _is_ip(host: str) -> bool:
    return outbound.parse_ip(host) is not None


def _may_look_up() -> bool:
    return outbound.policy().name_resolution


def resolve_server(server_name: str) -> ServerAddress:
    """Where to connect for `server_name` (spec steps 1-6). Raises InvalidServerName."""
    host, port = split_server_name(server_name)
    if _is_ip(host):
        return ServerAddress(host, port or DEFAULT_PORT, server_name, host)
    if port is not None:
        return ServerAddress(host, port, server_name, host)
    delegated = well_known(host)
    if delegated is not None:
        dhost, dport = split_server_name(delegated)
        if _is_ip(dhost):
            return ServerAddress(dhost, dport or DEFAULT_PORT, delegated, dhost)
        if dport is not None:
            return ServerAddress(dhost, dport, delegated, dhost)
        return _srv_or_default(dhost)
    return _srv_or_default(host)


def _srv_or_default(host: str) -> ServerAddress:
    if _may_look_up() and host.lower() != "localhost":
        for service in ("_matrix-fed._tcp", "_matrix._tcp"):
            records = lookup_srv(f"{service}.{host}")
            if records:
                r = records[0]
                return ServerAddress(r.target, r.port, host, host)
    return ServerAddress(host, DEFAULT_PORT, host, host)


def lookup_srv(name: str) -> list[SrvRecord]:
    """SRV records for `name`, in the order to try them (RFC 2782 priority, then weighted random).
    No records (or a "." target: service explicitly unavailable) gives []. Tests replace this."""
    import dns.exception
    import dns.resolver

    try:
        answer = dns.resolver.resolve(name, "SRV", lifetime=SRV_TIMEOUT_S)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers):
        return []
    except dns.exception.DNSException as e:
        logger.info("SRV lookup for %s failed: %s", name, e)
        return []
    records = [SrvRecord(r.priority, r.weight, str(r.target).rstrip("."), r.port) for r in answer]
    if len(records) == 1 and records[0].target in ("", "."):
        return []
    return order_srv(records)


def order_srv(records: list[SrvRecord]) -> list[SrvRecord]:
    out: list[SrvRecord] = []
    for prio in sorted({r.priority for r in records}):
        group = [r for r in records if r.priority == prio and r.target not in ("", ".")]
        while group:
            total = sum(r.weight for r in group)
            pick = random.uniform(0, total) if total else 0
            acc = 0
            chosen = group[0]
            for r in group:
                acc += r.weight
                if acc >= pick and (r.weight or not total):
                    chosen = r
                    break
            out.append(chosen)
            group.remove(chosen)
    return out


# --- .well-known/matrix/server ----------------------------------------------------------------------------


def _cache_key(host: str) -> str:
    return f"hs:federation:wellknown:{host.lower()}"


def well_known(host: str) -> str | None:
    """The `m.server` delegation of `host`, or None; cached (answers and failures alike)."""
    if host.lower() != "localhost" and not _may_look_up():
        return None  # the request could only be refused by the outbound guard
    cached = cache.get(_cache_key(host))
    if cached is not None:
        return cached.get("m.server")
    value, ttl = fetch_well_known(host)
    cache.set(_cache_key(host), {"m.server": value}, ttl)
    return value


def fetch_well_known(host: str) -> tuple[str | None, int]:
    """(delegated server name or None, seconds to cache the outcome)."""
    port = "" if WELL_KNOWN_PORT == 443 else f":{WELL_KNOWN_PORT}"
    url = f"https://{host}{port}/.well-known/matrix/server"
    try:
        with outbound.federation_client().stream("GET", url, follow_redirects=True,
                                                  timeout=WELL_KNOWN_TIMEOUT) as resp:
            body = b""
            for chunk in resp.iter_bytes():
                body += chunk
                if len(body) > WELL_KNOWN_MAX_BYTES:
                    logger.info(".well-known of %s is too large", host)
                    return None, WELL_KNOWN_INVALID_CACHE_S
            status, headers = resp.status_code, resp.headers
    except httpx.HTTPError as e:
        logger.info(".well-known of %s unreachable: %s", host, e)
        return None, WELL_KNOWN_DOWN_CACHE_S
    if status != 200:
        return None, WELL_KNOWN_INVALID_CACHE_S
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None, WELL_KNOWN_INVALID_CACHE_S
    delegated = data.get("m.server") if isinstance(data, dict) else None
    if not isinstance(delegated, str):
        return None, WELL_KNOWN_INVALID_CACHE_S
    try:
        split_server_name(delegated)
    except InvalidServerName:
        return None, WELL_KNOWN_INVALID_CACHE_S
    return delegated, _cache_period(headers.get("cache-control", ""))


def _cache_period(cache_control: str) -> int:
    m = re.search(r"(?:^|[,\s])max-age\s*=\s*\"?([0-9]+)", cache_control, re.IGNORECASE)
    if not m:
        return WELL_KNOWN_DEFAULT_CACHE_S
    return max(WELL_KNOWN_MIN_CACHE_S, min(int(m.group(1)), WELL_KNOWN_MAX_CACHE_S))
