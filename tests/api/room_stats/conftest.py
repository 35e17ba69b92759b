"""Fixtures of the room statistics tests: the statistics follow the `events` stream up to the committed
position, so these tests run with real commits (`transaction=True`), and state caches never outlive a test."""
from __future__ import annotations

import pytest

from apps.rooms import state_store


@pytest.fixture(autouse=True)
def _fresh_state_cache():
    state_store.clear_cache()
    yield
    state_store.clear_cache()
