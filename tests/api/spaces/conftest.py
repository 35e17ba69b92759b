"""Fixtures of the rooms API tests."""
from __future__ import annotations

import pytest

from apps.rooms import state_store


@pytest.fixture(autouse=True)
def _fresh_state_cache():
    # State group ids are reused after a test's rollback on SQLite: never carry cached groups over.
    state_store.clear_cache()
    yield
    state_store.clear_cache()
