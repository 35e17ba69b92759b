"""The one outbound HTTP client: federation, push gateways, application services, media fetching.

Every outbound connection goes through `GuardedBackend` (an httpcore network backend), which checks
the address it is about to connect to against `ip_range_blacklist` / `ip_range_whitelist`
(DESIGN.md section 8, "IP range blacklist against SSRF"):

- an IP literal is checked as it is, with no lookup;
- `localhost` maps to 127.0.0.1 and ::1 without any lookup (RFC 6761);
- any other name is refused before any lookup when `outbound_name_resolution` is false (the test
  configuration: nothing a test does can resolve or reach another host);
- otherwise the name is resolved once (`lookup_host`), EVERY address is checked (one blocked address
  refuses the name, as Synapse does, so that a DNS answer cannot smuggle a private address in), and
  the connection goes to a checked address. No second resolution happens, so a short DNS TTL cannot
  swap the address between the check and the connection (DNS rebinding). The URL keeps the name, so
  the Host header, TLS SNI and certificate check are those of the name.

The guard sits below redirects and connection pooling, so a redirect cannot escape it.

`connect_override({(name, port): host})` redirects the TCP connection for one name to another host
(the target of an SRV record) while TLS and Host stay those of the name; the override is itself
checked by the guard. `check_federation_destination` applies `federation_domain_whitelist`.

Public API: `client()`, `async_client()`, `federation_client()`, `async_federation_client()`,
`configured_destination_client()` (application services: admin-configured URLs, no blacklist),
`preview_client()` (URL previews: `url_preview_ip_range_blacklist`/`_whitelist` instead), `OutboundRefused`,
`FederationDenied`, `check_federation_destination`, `policy()`, `preview_policy()`,
`connect_override`, `lookup_host` (the one place a name is resolved; tests replace it).
"""
from __future__ import annotations

import contextlib
import contextvars
import ipaddress
import socket
import ssl
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Iterator

import httpcore
import httpx
from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Timeouts (seconds). Federation requests may legitimately wait on a remote server's work (send_join);
# callers pass a longer read timeout where the spec expects one.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
DEFAULT_LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=60.0)
USER_AGENT = "hsproject"

LOCALHOST_ADDRESSES = ("127.0.0.1", "::1")


class OutboundRefused(httpx.ConnectError):
    """The destination is not allowed (blacklisted address, or a name that may not be resolved).

    A subclass of httpx.ConnectError, so callers that handle "could not connect" handle this too."""


class FederationDenied(Exception):
    """`federation_domain_whitelist` does not allow this server."""

    def __init__(self, server_name: str):
        super().__init__(f"Federation with {server_name} is not allowed by federation_domain_whitelist")
        self.server_name = server_name


@dataclass(frozen=True)
class OutboundPolicy:
    blacklist: tuple[IPNetwork, ...]
    whitelist: tuple[IPNetwork, ...]
    name_resolution: bool

    def ip_allowed(self, ip: IPAddress) -> bool:
        candidates = [ip]
        mapped = getattr(ip, "ipv4_mapped", None) or getattr(ip, "sixtofour", None)
        if mapped is not None:
            candidates.append(mapped)  # ::ffff:10.0.0.1 is 10.0.0.1
        for candidate in candidates:
            if any(candidate in net for net in self.whitelist if net.version == candidate.version):
                continue
            if any(candidate in net for net in self.blacklist if net.version == candidate.version):
                return False
        return True

    def check_ip(self, ip: IPAddress, host: str) -> None:
        if not self.ip_allowed(ip):
            raise OutboundRefused(f"Outbound connection to {host} ({ip}) refused: address is in ip_range_blacklist")

    def addresses(self, host: str) -> list[str]:
        """The checked addresses to connect to for `host`, or OutboundRefused; resolves at most once."""
        literal = parse_ip(host)
        if literal is not None:
            self.check_ip(literal, host)
            return [str(literal)]
        name = host.rstrip(".").lower()
        if name == "localhost":
            found = list(LOCALHOST_ADDRESSES)
        elif not self.name_resolution:
            raise OutboundRefused(f"Outbound connection to {host} refused: outbound_name_resolution is off "
                                  "(only IP literals and localhost are allowed)")
        else:
            found = lookup_host(name)
            if not found:
                raise httpx.ConnectError(f"{host} has no address")
        checked = []
        for addr in found:
            ip = ipaddress.ip_address(addr.split("%", 1)[0])
            self.check_ip(ip, host)  # one blocked address refuses the whole name
            checked.append(str(ip))
        return checked


def parse_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


@lru_cache(maxsize=8)
def _policy(blacklist: tuple[str, ...], whitelist: tuple[str, ...], name_resolution: bool) -> OutboundPolicy:
    return OutboundPolicy(tuple(ipaddress.ip_network(n, strict=False) for n in blacklist),
                          tuple(ipaddress.ip_network(n, strict=False) for n in whitelist), name_resolution)


def policy() -> OutboundPolicy:
    """The policy of the current settings (read at every connection, so settings overrides apply)."""
    hs = settings.HS
    return _policy(tuple(hs.ip_range_blacklist), tuple(hs.ip_range_whitelist),
                   bool(getattr(hs, "outbound_name_resolution", True)))


# Never a destination, whatever the preview ranges say (as Synapse adds them to its preview blacklist).
PREVIEW_ALWAYS_BLOCKED = ("0.0.0.0/32", "::/128")


def preview_policy() -> OutboundPolicy:
    """The policy of URL previews: their own ranges; the federation ones do not apply."""
    hs = settings.HS
    return _policy(tuple(hs.media.url_preview_ip_range_blacklist) + PREVIEW_ALWAYS_BLOCKED,
                   tuple(hs.media.url_preview_ip_range_whitelist), bool(getattr(hs, "outbound_name_resolution", True)))


def lookup_host(name: str) -> list[str]:
    """Resolves `name` (A/AAAA, through the system resolver). Only called when name resolution is on."""
    try:
        infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise httpx.ConnectError(f"Cannot resolve {name}: {e}") from e
    seen: list[str] = []
    for family, _type, _proto, _canon, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6) and sockaddr[0] not in seen:
            seen.append(sockaddr[0])
    return seen


def check_federation_destination(server_name: str) -> None:
    """Raises FederationDenied unless `federation_domain_whitelist` allows `server_name`."""
    allowed = settings.HS.federation_domain_whitelist
    if allowed is None:
        return
    if server_name not in allowed:
        raise FederationDenied(server_name)


def federation_allowed(server_name: str) -> bool:
    try:
        check_federation_destination(server_name)
    except FederationDenied:
        return False
    return True


# --- connection target overrides (SRV targets) -------------------------------------------------------

_overrides: contextvars.ContextVar[dict[tuple[str, int], str]] = contextvars.ContextVar("outbound_overrides",
                                                                                         default={})


@contextlib.contextmanager
def connect_override(mapping: dict[tuple[str, int], str]) -> Iterator[None]:
    """Within the block, a connection to (name, port) goes to the host mapped instead (still guarded)."""
    token = _overrides.set({**_overrides.get(), **{(h.lower(), p): t for (h, p), t in mapping.items()}})
    try:
        yield
    finally:
        _overrides.reset(token)


def _target(host: str, port: int) -> str:
    return _overrides.get().get((host.lower(), port), host)


# --- the guarded network backends ------------------------------------------------------------------


class GuardedBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend | None = None, policy_of=None):
        self.inner = inner or httpcore.SyncBackend()
        self.policy_of = policy_of or policy

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable | None = None) -> httpcore.NetworkStream:
        addresses = self.policy_of().addresses(_target(host, port))
        error: Exception | None = None
        for addr in addresses:
            try:
                return self.inner.connect_tcp(addr, port, timeout=timeout, local_address=local_address,
                                              socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                error = e
        assert error is not None
        raise error

    def connect_unix_socket(self, *args, **kwargs):  # pragma: no cover - never configured
        raise OutboundRefused("Outbound unix socket connections are not allowed")

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


class AsyncGuardedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, inner: httpcore.AsyncNetworkBackend | None = None):
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable | None = None) -> httpcore.AsyncNetworkStream:
        import anyio.to_thread

        target = _target(host, port)
        pol = policy()
        if parse_ip(target) is not None or target.rstrip(".").lower() == "localhost" or not pol.name_resolution:
            addresses = pol.addresses(target)  # no lookup on this path: no thread needed
        else:
            addresses = await anyio.to_thread.run_sync(pol.addresses, target)
        error: Exception | None = None
        for addr in addresses:
            try:
                return await self.inner.connect_tcp(addr, port, timeout=timeout, local_address=local_address,
                                                    socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                error = e
        assert error is not None
        raise error

    async def connect_unix_socket(self, *args, **kwargs):  # pragma: no cover - never configured
        raise OutboundRefused("Outbound unix socket connections are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def _pool_kwargs(ssl_context: ssl.SSLContext, limits: httpx.Limits) -> dict:
    return dict(ssl_context=ssl_context, max_connections=limits.max_connections,
                max_keepalive_connections=limits.max_keepalive_connections,
                keepalive_expiry=limits.keepalive_expiry, http1=True, http2=False)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport with the guarded backend underneath (and never a proxy from the environment)."""

    def __init__(self, ssl_context: ssl.SSLContext, limits: httpx.Limits = DEFAULT_LIMITS, policy_of=None):
        super().__init__(verify=ssl_context, trust_env=False, limits=limits)
        self._pool = httpcore.ConnectionPool(network_backend=GuardedBackend(policy_of=policy_of),
                                             **_pool_kwargs(ssl_context, limits))


class AsyncGuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, ssl_context: ssl.SSLContext, limits: httpx.Limits = DEFAULT_LIMITS):
        super().__init__(verify=ssl_context, trust_env=False, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(network_backend=AsyncGuardedBackend(),
                                                  **_pool_kwargs(ssl_context, limits))


# --- TLS ----------------------------------------------------------------------------------------------


def default_ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context()


def federation_ssl_context() -> ssl.SSLContext:
    """Synapse's semantics: `federation_verify_certificates: false` checks nothing; a non-empty
    `federation_custom_ca_list` REPLACES the system trust store for federation."""
    hs = settings.HS
    if not getattr(hs, "federation_verify_certificates", True):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    cas = tuple(getattr(hs, "federation_custom_ca_list", ()) or ())
    if not cas:
        return ssl.create_default_context()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies and checks host names, no default CAs
    for path in cas:
        ctx.load_verify_locations(cafile=str(path))
    return ctx


# --- the clients ----------------------------------------------------------------------------------------

_lock = threading.Lock()
_clients: dict[tuple, httpx.Client] = {}
_async_clients: dict[tuple, httpx.AsyncClient] = {}


def _tls_key(kind: str) -> tuple:
    hs = settings.HS
    if kind == "federation":
        return (kind, bool(getattr(hs, "federation_verify_certificates", True)),
                tuple(str(p) for p in (getattr(hs, "federation_custom_ca_list", ()) or ())))
    return (kind,)


def _ssl_context(kind: str) -> ssl.SSLContext:
    return federation_ssl_context() if kind == "federation" else default_ssl_context()


def _client(kind: str) -> httpx.Client:
    key = _tls_key(kind)
    c = _clients.get(key)
    if c is None:
        with _lock:
            c = _clients.get(key)
            if c is None:
                c = _clients[key] = httpx.Client(transport=GuardedTransport(_ssl_context(kind)),
                                                 timeout=DEFAULT_TIMEOUT, trust_env=False,
                                                 headers={"User-Agent": USER_AGENT}, max_redirects=5)
    return c


def client() -> httpx.Client:
    """The pooled, guarded client for non-federation requests (push gateways, appservices, media).
    Thread-safe; do not close it. Redirects are not followed unless a request asks for it."""
    return _client("default")


def configured_destination_client() -> httpx.Client:
    """For destinations an admin configured by URL, i.e. application services: the same timeouts, pooling,
    redirect and proxy rules, but WITHOUT the `ip_range_blacklist` check. An application service usually
    runs on loopback or a private network next to the homeserver; like Synapse, its traffic is not subject
    to the blacklist, which guards URLs that users or remote servers choose. Never use it for those."""
    c = _clients.get(("configured",))
    if c is None:
        with _lock:
            c = _clients.get(("configured",))
            if c is None:
                transport = httpx.HTTPTransport(verify=default_ssl_context(), trust_env=False, limits=DEFAULT_LIMITS)
                c = _clients[("configured",)] = httpx.Client(transport=transport, timeout=DEFAULT_TIMEOUT,
                                                             trust_env=False, headers={"User-Agent": USER_AGENT},
                                                             max_redirects=5)
    return c


def preview_client() -> httpx.Client:
    """For URL previews: as `client()`, but guarded by `preview_policy()` (the URL preview ranges)."""
    c = _clients.get(("preview",))
    if c is None:
        with _lock:
            c = _clients.get(("preview",))
            if c is None:
                c = _clients[("preview",)] = httpx.Client(
                    transport=GuardedTransport(default_ssl_context(), policy_of=preview_policy),
                    timeout=DEFAULT_TIMEOUT, trust_env=False, headers={"User-Agent": USER_AGENT}, max_redirects=5)
    return c


def federation_client() -> httpx.Client:
    """As `client()`, with the federation TLS settings (`federation_verify_certificates`,
    `federation_custom_ca_list`)."""
    return _client("federation")


def _async_client(kind: str) -> httpx.AsyncClient:
    # An AsyncClient belongs to one event loop; callers in other loops should build their own with
    # `new_async_client`. This shared one is for the process's main loop.
    key = _tls_key(kind)
    c = _async_clients.get(key)
    if c is None:
        with _lock:
            c = _async_clients.get(key)
            if c is None:
                c = _async_clients[key] = new_async_client(kind)
    return c


def new_async_client(kind: str = "default") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=AsyncGuardedTransport(_ssl_context(kind)), timeout=DEFAULT_TIMEOUT,
                             trust_env=False, headers={"User-Agent": USER_AGENT}, max_redirects=5)


def async_client() -> httpx.AsyncClient:
    return _async_client("default")


def async_federation_client() -> httpx.AsyncClient:
    return _async_client("federation")


def _reset_for_tests() -> None:
    with _lock:
        for c in _clients.values():
            c.close()
        _clients.clear()
        _async_clients.clear()
