"""Fixtures of the tests of the kept answers of other servers (apps.federation.query_cache): a fake remote
homeserver on loopback (tests/federation_support.py `remote_server`) whose profile and directory answers
the tests set and whose requests they count."""
from __future__ import annotations

from tests.federation_support import (PrefixRoutes, federation_tls, fresh_state_cache,  # noqa: F401
                                      remote_hs, remote_server, test_ca, tls_server)
