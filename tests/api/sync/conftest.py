"""Fixtures of the sync API tests.

/sync reads the events stream only up to the persisted-up-to position, which moves when a writing
transaction COMMITS (on_commit): these tests run with real commits (`transaction=True`)."""
from __future__ import annotations

import pytest

from apps.rooms import state_store


@pytest.fixture(autouse=True)
def _fresh_state_cache():
    state_store.clear_cache()
    yield
    state_store.clear_cache()
