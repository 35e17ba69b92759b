"""Fixtures of these API tests: /sync reads streams up to positions that move on COMMIT, so the tests
run with real commits; state groups are not carried over between tests."""
from __future__ import annotations

import pytest

from apps.rooms import state_store


@pytest.fixture(autouse=True)
def _fresh_state_cache():
    state_store.clear_cache()
    yield
    state_store.clear_cache()


@pytest.fixture(autouse=True)
def _stop_loops():
    """The typing and presence loops are per-process threads: none outlives a test that started it."""
    yield
    from apps.presence.loop import loop as presence_loop
    from apps.typing.timeouts import loop as typing_loop
    typing_loop().stop()
    presence_loop().stop()
