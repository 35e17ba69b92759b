"""Fixtures of the remote knock tests: a fake remote homeserver on loopback (a TLS server named
`127.0.0.1:<port>`, tests/federation_support.py) whose signing key our keyring knows."""
from __future__ import annotations

import pytest

from apps.rooms import state_store
from tests.api.federation.remote import FakeRemote
from tests.api.federation_outbound.conftest import PrefixRoutes
from tests.federation_support import federation_tls, test_ca, tls_server  # noqa: F401


@pytest.fixture(autouse=True)
def _fresh_state_cache():
    state_store.clear_cache()
    yield
    state_store.clear_cache()


@pytest.fixture
def remote_server(tls_server, db):  # noqa: F811
    """(LoopbackServer, FakeRemote) of one remote homeserver on loopback."""
    server = tls_server()
    server.routes = PrefixRoutes()
    remote = FakeRemote(server.server_name)
    return server, remote
