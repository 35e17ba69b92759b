"""Federation fixtures: see tests/federation_support.py (TLS test servers on loopback) and remote.py
(a fake remote homeserver signing its requests and events)."""
import pytest

from apps.rooms import state_store
from tests.federation_support import federation_tls, no_dns, test_ca, tls_server  # noqa: F401


@pytest.fixture(autouse=True)
def _fresh_state_cache():
    # State groups are cached per process; tests that commit (transaction=True) reuse group ids.
    state_store.clear_cache()
    yield
    state_store.clear_cache()
