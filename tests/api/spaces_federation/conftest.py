"""Fixtures of the federation side of spaces: the signed fake remote of tests/api/federation/remote.py
(inbound requests), and loopback TLS servers answering this server's own requests
(tests/federation_support.py)."""
from __future__ import annotations

import pytest

from apps.rooms import state_store
from tests.federation_support import federation_tls, test_ca, tls_server  # noqa: F401


class PrefixRoutes(dict):
    """Routes of a LoopbackServer matched by path prefix (the paths end with room IDs)."""

    def get(self, path, default=None):
        for prefix, handler in self.items():
            if path.startswith(prefix):
                return handler
        return default


@pytest.fixture(autouse=True)
def _fresh_state_cache():
    # State group ids are reused after a test's rollback on SQLite: never carry cached groups over.
    state_store.clear_cache()
    yield
    state_store.clear_cache()


@pytest.fixture
def remote_hs(tls_server, db):  # noqa: F811
    """A remote homeserver on loopback (`127.0.0.1:<port>`), its routes matched by path prefix."""
    server = tls_server()
    server.routes = PrefixRoutes()
    return server
