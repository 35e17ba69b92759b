"""Fixtures of the tests of requests this server makes to other servers for its clients: a fake
remote homeserver on loopback (a TLS server named `127.0.0.1:<port>`, tests/federation_support.py)
whose signing key our keyring knows."""
from __future__ import annotations

from tests.federation_support import (PrefixRoutes, federation_tls, fresh_state_cache,  # noqa: F401
                                      remote_hs, remote_server, test_ca, tls_server)
