"""Fixtures of the signing key rotation tests: TLS servers on loopback (tests/federation_support.py)
that publish a remote server's keys, and a fresh state cache per test."""
import pytest

from apps.federation import signing
from apps.rooms import state_store
from tests.federation_support import federation_tls, test_ca, tls_server  # noqa: F401


@pytest.fixture(autouse=True)
def _fresh_caches():
    state_store.clear_cache()
    yield
    state_store.clear_cache()
    signing._clear_cache_for_tests()
