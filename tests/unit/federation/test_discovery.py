"""apps.federation.discovery: server name resolution per the spec's steps, with no real DNS.

Names like example.test resolve only through stubs (outbound.lookup_host, discovery.lookup_srv);
the .well-known is served by a loopback TLS server."""
from __future__ import annotations

import pytest

from apps.core import outbound
from apps.federation import client, discovery
from apps.federation.discovery import ServerAddress, SrvRecord
from tests.federation_support import json_route, stub_resolver


@pytest.fixture
def no_srv(monkeypatch):
    def fail(name):
        raise AssertionError(f"SRV lookup of {name}")
    monkeypatch.setattr(discovery, "lookup_srv", fail)


@pytest.mark.parametrize("name,expected", [
    ("1.2.3.4", ServerAddress("1.2.3.4", 8448, "1.2.3.4", "1.2.3.4")),
    ("1.2.3.4:1234", ServerAddress("1.2.3.4", 1234, "1.2.3.4:1234", "1.2.3.4")),
    ("[2001:db8::1]", ServerAddress("2001:db8::1", 8448, "[2001:db8::1]", "2001:db8::1")),
    ("[::1]:8449", ServerAddress("::1", 8449, "[::1]:8449", "::1")),
    ("example.org:1234", ServerAddress("example.org", 1234, "example.org:1234", "example.org")),
])
def test_ip_literal_and_explicit_port_need_no_lookup(name, expected, no_dns, no_srv, settings, monkeypatch):
    settings.HS = settings.HS.replace(outbound_name_resolution=True)
    monkeypatch.setattr(discovery, "fetch_well_known", lambda h: pytest.fail("well-known fetched"))
    assert discovery.resolve_server(name) == expected


def test_url_brackets_ipv6():
    assert discovery.resolve_server("[::1]:8449").url("/x?y=1") == "https://[::1]:8449/x?y=1"


def test_without_name_resolution_a_hostname_is_not_looked_up(no_dns, no_srv, monkeypatch):
    monkeypatch.setattr(discovery, "fetch_well_known", lambda h: pytest.fail("well-known fetched"))
    assert discovery.resolve_server("example.org") == ServerAddress("example.org", 8448, "example.org", "example.org")
    # ... and the outbound guard then refuses it, still without DNS.
    with pytest.raises(client.FederationError):
        client.request("example.org", "GET", "/_matrix/federation/v1/version")


@pytest.mark.parametrize("bad", ["", "exa mple.org", "example.org:0", "example.org:99999", "[not-ip]", "a:b:c"])
def test_invalid_server_names(bad):
    with pytest.raises(discovery.InvalidServerName):
        discovery.resolve_server(bad)


# --- with (stubbed) name resolution -----------------------------------------------------------------------


@pytest.fixture
def world(settings, monkeypatch, tls_server, no_dns):
    """Name resolution on, with stub A records and SRV records; a loopback server answers the
    .well-known of every stub name."""
    settings.HS = settings.HS.replace(outbound_name_resolution=True)
    server = tls_server()
    monkeypatch.setattr(discovery, "WELL_KNOWN_PORT", server.port)
    hosts = stub_resolver({n: ["127.0.0.1"] for n in ("example.test", "delegated.test", "srv-target.test")})
    monkeypatch.setattr(outbound, "lookup_host", hosts)
    srv: dict[str, list[SrvRecord]] = {}
    srv_calls: list[str] = []

    def lookup_srv(name):
        srv_calls.append(name)
        return srv.get(name, [])

    monkeypatch.setattr(discovery, "lookup_srv", lookup_srv)
    server.srv, server.srv_calls, server.hosts = srv, srv_calls, hosts
    return server


def _well_known_requests(server):
    return [r for r in server.requests if r.path == "/.well-known/matrix/server"]


def test_well_known_with_port_is_followed_and_cached(world):
    world.routes["/.well-known/matrix/server"] = json_route({"m.server": "delegated.test:9999"})
    expected = ServerAddress("delegated.test", 9999, "delegated.test:9999", "delegated.test")
    assert discovery.resolve_server("example.test") == expected
    assert discovery.resolve_server("example.test") == expected
    assert len(_well_known_requests(world)) == 1
    assert _well_known_requests(world)[0].headers["host"] == f"example.test:{world.port}"
    assert _well_known_requests(world)[0].sni == "example.test"
    assert world.srv_calls == []


def test_well_known_to_ip_literal(world):
    world.routes["/.well-known/matrix/server"] = json_route({"m.server": "127.0.0.1"})
    assert discovery.resolve_server("example.test") == ServerAddress("127.0.0.1", 8448, "127.0.0.1", "127.0.0.1")


def test_well_known_without_port_uses_srv_of_the_delegated_name(world):
    world.routes["/.well-known/matrix/server"] = json_route({"m.server": "delegated.test"})
    world.srv["_matrix-fed._tcp.delegated.test"] = [SrvRecord(10, 5, "srv-target.test", 4321)]
    addr = discovery.resolve_server("example.test")
    assert addr == ServerAddress("srv-target.test", 4321, "delegated.test", "delegated.test")
    assert addr.override() == {("delegated.test", 4321): "srv-target.test"}


def test_well_known_without_port_or_srv_uses_8448(world):
    world.routes["/.well-known/matrix/server"] = json_route({"m.server": "delegated.test"})
    assert discovery.resolve_server("example.test") == ServerAddress("delegated.test", 8448, "delegated.test",
                                                                     "delegated.test")
    assert world.srv_calls == ["_matrix-fed._tcp.delegated.test", "_matrix._tcp.delegated.test"]


def test_no_well_known_then_srv_then_deprecated_srv_then_8448(world):
    world.srv["_matrix._tcp.example.test"] = [SrvRecord(0, 0, "srv-target.test", 7000)]
    assert discovery.resolve_server("example.test") == ServerAddress("srv-target.test", 7000, "example.test",
                                                                     "example.test")
    world.srv["_matrix-fed._tcp.example.test"] = [SrvRecord(0, 0, "srv-target.test", 7001)]
    assert discovery.resolve_server("example.test").port == 7001
    world.srv.clear()
    assert discovery.resolve_server("example.test") == ServerAddress("example.test", 8448, "example.test",
                                                                     "example.test")
    assert len(_well_known_requests(world)) == 1  # the 404 is cached too


@pytest.mark.parametrize("route", [
    json_route({"m.server": 12}), json_route({"other": "x"}), json_route(b"not json"),
    json_route({"m.server": "bad name!"}), json_route({"m.server": "delegated.test:1"}, status=500),
])
def test_invalid_well_known_is_ignored_and_cached(world, route):
    world.routes["/.well-known/matrix/server"] = route
    addr = discovery.resolve_server("example.test")
    assert addr == ServerAddress("example.test", 8448, "example.test", "example.test")
    discovery.resolve_server("example.test")
    assert len(_well_known_requests(world)) == 1


def test_well_known_redirect_is_followed(world):
    world.routes["/.well-known/matrix/server"] = lambda rec: (
        301, {"Location": f"https://delegated.test:{world.port}/elsewhere"}, b"")
    world.routes["/elsewhere"] = json_route({"m.server": "delegated.test:4444"})
    assert discovery.resolve_server("example.test").port == 4444


def test_well_known_redirect_to_a_blocked_address_is_not_followed(world, monkeypatch):
    world.routes["/.well-known/matrix/server"] = lambda rec: (302, {"Location": "https://10.0.0.1/x"}, b"")
    assert discovery.resolve_server("example.test").connect_host == "example.test"


def test_well_known_cache_period():
    assert discovery._cache_period("") == 24 * 3600
    assert discovery._cache_period("public, max-age=600") == 600
    assert discovery._cache_period("max-age=1") == 5 * 60
    assert discovery._cache_period("max-age=99999999") == 48 * 3600


def test_srv_ordering_by_priority():
    records = [SrvRecord(20, 0, "c", 1), SrvRecord(10, 1, "a", 1), SrvRecord(10, 0, "b", 1)]
    ordered = discovery.order_srv(records)
    assert {r.target for r in ordered[:2]} == {"a", "b"} and ordered[2].target == "c"


def test_request_end_to_end_through_delegation_and_srv(world):
    """A federation request to example.test: .well-known -> delegated.test -> SRV -> srv-target.test;
    the request arrives with Host and SNI of the delegated name, signed for example.test."""
    world.routes["/.well-known/matrix/server"] = json_route({"m.server": "delegated.test"})
    world.srv["_matrix-fed._tcp.delegated.test"] = [SrvRecord(10, 5, "srv-target.test", world.port)]
    world.routes["/_matrix/federation/v1/version"] = json_route({"server": {"name": "stub"}})
    assert client.get_json("example.test", "/_matrix/federation/v1/version") == {"server": {"name": "stub"}}
    rec = world.requests[-1]
    assert rec.headers["host"] == "delegated.test"
    assert rec.sni == "delegated.test"
    assert 'destination="example.test"' in rec.headers["authorization"]
    assert "srv-target.test" in world.hosts.calls


def test_response_size_is_bounded(tls_server, monkeypatch):
    server = tls_server(**{"/big": json_route({"x": "y" * 1000})})
    monkeypatch.setattr(client, "MAX_RESPONSE_BYTES", 100)
    with pytest.raises(client.FederationError, match="larger than"):
        client.request(server.server_name, "GET", "/big")
    monkeypatch.setattr(client, "MAX_RESPONSE_BYTES", 10_000)
    assert client.get_json(server.server_name, "/big") == {"x": "y" * 1000}
