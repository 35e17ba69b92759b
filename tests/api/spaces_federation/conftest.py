"""Fixtures of the federation side of spaces: the signed fake remote of tests/api/federation/remote.py
(inbound requests), and loopback TLS servers answering this server's own requests
(tests/federation_support.py)."""
from __future__ import annotations

from tests.federation_support import (federation_tls, fresh_state_cache, remote_hs, test_ca,  # noqa: F401
                                      tls_server)
