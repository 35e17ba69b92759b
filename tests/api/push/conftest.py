"""Fixtures of the push API tests: real commits (the counts and rules reach /sync through stream
positions that move on commit), and a fresh per-process rules cache (stream positions may start over
with a fresh test database, and the cache is keyed by them)."""
from __future__ import annotations

import pytest

from apps.push import rules
from apps.rooms import state_store


@pytest.fixture(autouse=True)
def _fresh_caches():
    rules.clear_cache()
    state_store.clear_cache()
    yield
    rules.clear_cache()
    state_store.clear_cache()
