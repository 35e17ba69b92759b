"""apps.core.outbound: the one outbound client refuses blacklisted addresses and unresolvable names
before any DNS lookup or connection, and connects to loopback when it is whitelisted."""
from __future__ import annotations

import asyncio
import ipaddress
import socket

import httpx
import pytest

from apps.core import outbound
from hsproject.config.sections import DEFAULT_IP_RANGE_BLACKLIST
from tests.federation_support import json_route, stub_resolver


@pytest.fixture
def no_connect(monkeypatch):
    """Fails the test if any TCP connection is attempted."""
    attempts = []

    def refuse(address, *args, **kwargs):
        attempts.append(address)
        raise AssertionError(f"connection to {address} attempted")

    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


@pytest.mark.parametrize("url", [
    "https://10.0.0.1/x", "https://192.168.1.1/x", "https://8.8.8.8/x", "http://8.8.8.8:80/x",
    "https://[2001:4860:4860::8888]/x", "https://[::ffff:10.0.0.1]/x", "https://example.org/x",
    "https://matrix.org:8448/x", "https://10.0.0.1.nip.io/x",
])
def test_refused_without_dns_or_connection(url, no_dns, no_connect):
    for c in (outbound.client(), outbound.federation_client()):
        with pytest.raises(outbound.OutboundRefused):
            c.get(url)
    assert no_dns == [] and no_connect == []


def test_refusal_is_a_connect_error(no_dns, no_connect):
    with pytest.raises(httpx.ConnectError):
        outbound.client().get("https://10.0.0.1/")


def test_loopback_allowed_when_whitelisted(tls_server, no_dns):
    server = tls_server(**{"/hello": json_route({"ok": True})})
    resp = outbound.federation_client().get(f"https://127.0.0.1:{server.port}/hello")
    assert resp.status_code == 200 and resp.json() == {"ok": True}
    assert all(outbound.parse_ip(h) for h in no_dns)  # only the IP literal itself, no name


def test_localhost_needs_no_lookup(tls_server, no_dns):
    server = tls_server(**{"/hello": json_route({"ok": True})})
    resp = outbound.federation_client().get(f"https://localhost:{server.port}/hello")
    assert resp.status_code == 200
    assert server.requests[-1].headers["host"] == f"localhost:{server.port}"
    assert server.requests[-1].sni == "localhost"
    assert "localhost" not in no_dns


def test_loopback_refused_by_default_blacklist(settings, no_dns, no_connect):
    settings.HS = settings.HS.replace(ip_range_blacklist=DEFAULT_IP_RANGE_BLACKLIST, ip_range_whitelist=())
    for url in ("https://127.0.0.1:1/", "https://localhost:1/", "https://[::1]:1/"):
        with pytest.raises(outbound.OutboundRefused):
            outbound.client().get(url)
    assert no_connect == []


def test_redirect_to_a_blocked_address_is_refused(tls_server):
    server = tls_server(**{"/go": lambda rec: (302, {"Location": "https://10.0.0.1/inside"}, b"")})
    with pytest.raises(outbound.OutboundRefused):
        outbound.federation_client().get(f"https://127.0.0.1:{server.port}/go", follow_redirects=True)


def test_environment_proxy_is_ignored(tls_server, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://10.9.9.9:3128")
    monkeypatch.setenv("ALL_PROXY", "http://10.9.9.9:3128")
    outbound._reset_for_tests()
    server = tls_server(**{"/hello": json_route({"ok": True})})
    assert outbound.federation_client().get(f"https://127.0.0.1:{server.port}/hello").status_code == 200


# --- with name resolution on (the resolver stubbed: still no DNS) ---------------------------------------


@pytest.fixture
def resolution_on(settings, monkeypatch):
    settings.HS = settings.HS.replace(outbound_name_resolution=True)

    def install(mapping):
        stub = stub_resolver(mapping)
        monkeypatch.setattr(outbound, "lookup_host", stub)
        return stub
    return install


def test_resolved_name_connects_to_the_checked_address_with_its_own_host_and_sni(tls_server, resolution_on, no_dns):
    stub = resolution_on({"example.test": ["127.0.0.1"]})
    server = tls_server(**{"/hello": json_route({"ok": True})})
    resp = outbound.federation_client().get(f"https://example.test:{server.port}/hello")
    assert resp.status_code == 200
    assert stub.calls == ["example.test"]  # resolved exactly once
    assert server.requests[-1].headers["host"] == f"example.test:{server.port}"
    assert server.requests[-1].sni == "example.test"


@pytest.mark.parametrize("addresses", [["10.0.0.1"], ["127.0.0.1", "10.0.0.1"], ["10.0.0.1", "127.0.0.1"],
                                       ["::ffff:192.168.0.1"]])
def test_every_resolved_address_is_checked(addresses, resolution_on, no_dns, no_connect):
    resolution_on({"example.test": addresses})
    with pytest.raises(outbound.OutboundRefused):
        outbound.federation_client().get("https://example.test:8448/")
    assert no_connect == []


def test_connect_override_goes_to_the_target_keeping_tls_name(tls_server, resolution_on, no_dns):
    stub = resolution_on({"srv-target.test": ["127.0.0.1"]})
    server = tls_server(**{"/hello": json_route({"ok": True})})
    with outbound.connect_override({("example.test", server.port): "srv-target.test"}):
        resp = outbound.federation_client().get(f"https://example.test:{server.port}/hello")
    assert resp.status_code == 200
    assert stub.calls == ["srv-target.test"]
    assert server.requests[-1].sni == "example.test"


def test_connect_override_target_is_guarded(resolution_on, no_dns, no_connect):
    resolution_on({})
    with outbound.connect_override({("example.test", 8448): "10.0.0.1"}):
        with pytest.raises(outbound.OutboundRefused):
            outbound.federation_client().get("https://example.test:8448/")


def test_wrong_certificate_name_fails(tls_server, resolution_on):
    resolution_on({"unknown-name.test": ["127.0.0.1"]})
    server = tls_server(**{"/hello": json_route({"ok": True})})
    with pytest.raises(httpx.ConnectError):
        outbound.federation_client().get(f"https://unknown-name.test:{server.port}/hello")


def test_untrusted_ca_fails_and_verification_can_be_disabled(tls_server, settings):
    server = tls_server(**{"/hello": json_route({"ok": True})})
    settings.HS = settings.HS.replace(federation_custom_ca_list=())
    with pytest.raises(httpx.ConnectError):
        outbound.federation_client().get(f"https://127.0.0.1:{server.port}/hello")
    settings.HS = settings.HS.replace(federation_verify_certificates=False)
    assert outbound.federation_client().get(f"https://127.0.0.1:{server.port}/hello").status_code == 200


# --- async -------------------------------------------------------------------------------------------------


def test_async_client_is_guarded_too(tls_server, no_dns):
    server = tls_server(**{"/hello": json_route({"ok": True})})

    async def go():
        async with outbound.new_async_client("federation") as c:
            with pytest.raises(outbound.OutboundRefused):
                await c.get("https://10.0.0.1/")
            with pytest.raises(outbound.OutboundRefused):
                await c.get("https://example.org/")
            return (await c.get(f"https://127.0.0.1:{server.port}/hello")).status_code

    assert asyncio.run(go()) == 200


# --- the policy itself --------------------------------------------------------------------------------------


def _policy(blacklist=DEFAULT_IP_RANGE_BLACKLIST, whitelist=(), resolve=True):
    return outbound._policy(tuple(blacklist), tuple(whitelist), resolve)


@pytest.mark.parametrize("ip,allowed", [
    ("8.8.8.8", True), ("2001:4860:4860::8888", True), ("127.0.0.1", False), ("10.1.2.3", False),
    ("172.16.0.1", False), ("192.168.1.1", False), ("169.254.169.254", False), ("::1", False),
    ("fe80::1", False), ("fd00::1", False), ("::ffff:10.0.0.1", False), ("::ffff:8.8.8.8", True),
    ("0.0.0.0", False), ("100.64.0.1", False), ("2002:0a00:0001::1", False),
])
def test_default_blacklist(ip, allowed):
    assert _policy().ip_allowed(ipaddress.ip_address(ip)) is allowed


def test_whitelist_is_an_exception_to_the_blacklist():
    p = _policy(whitelist=("10.1.0.0/16",))
    assert p.ip_allowed(ipaddress.ip_address("10.1.2.3"))
    assert not p.ip_allowed(ipaddress.ip_address("10.2.0.1"))


def test_federation_domain_whitelist(settings):
    outbound.check_federation_destination("anything.example")  # no whitelist: everyone
    settings.HS = settings.HS.replace(federation_domain_whitelist=("friend.example",))
    outbound.check_federation_destination("friend.example")
    with pytest.raises(outbound.FederationDenied):
        outbound.check_federation_destination("stranger.example")
    assert not outbound.federation_allowed("stranger.example")
