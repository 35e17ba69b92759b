"""Fixtures of the remote knock tests: a fake remote homeserver on loopback (a TLS server named
`127.0.0.1:<port>`, tests/federation_support.py) whose signing key our keyring knows."""
from tests.federation_support import (federation_tls, fresh_state_cache, remote_hs, remote_server,  # noqa: F401
                                      test_ca, tls_server)
