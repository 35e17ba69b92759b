"""Fixtures for federation tests: a test CA trusted for federation, TLS key servers on loopback."""
from __future__ import annotations

import socket

import pytest

from apps.core import outbound
from tests.federation_support import LoopbackServer, make_test_ca


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory):
    return make_test_ca(tmp_path_factory.mktemp("federation-ca"))


@pytest.fixture
def federation_tls(settings, test_ca):
    """Trust the test CA (and only it) for federation."""
    settings.HS = settings.HS.replace(federation_custom_ca_list=(test_ca.ca_path,))
    return test_ca


@pytest.fixture
def tls_server(test_ca, federation_tls):
    servers = []

    def make(**routes):
        s = LoopbackServer(test_ca)
        s.routes.update(routes)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.close()


@pytest.fixture
def no_dns(monkeypatch):
    """Fails the test on any name resolution other than of an IP literal (what connecting to an
    address does internally); records every call."""
    calls = []
    real = socket.getaddrinfo

    def guarded(host, *args, **kwargs):
        calls.append(host)
        if outbound.parse_ip(str(host)) is None:
            raise AssertionError(f"getaddrinfo({host!r}) called: a name was resolved")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    return calls
