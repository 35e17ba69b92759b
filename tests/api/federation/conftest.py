"""Federation fixtures: see tests/federation_support.py."""
from tests.federation_support import federation_tls, no_dns, test_ca, tls_server  # noqa: F401
