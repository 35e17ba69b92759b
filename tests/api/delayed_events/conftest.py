"""Fixtures of the delayed-events tests: the feature on (`max_event_delay_duration`), no in-process sending
thread (the tests run the sweep themselves on a simulated clock), a management rate limit out of the way."""
from __future__ import annotations

import pytest

from apps.delayed_events import handlers, wakeups
from apps.rooms import state_store
from hsproject.config.sections import RateLimit

from tests.api.delayed_events.helpers import MAX_DELAY_MS


@pytest.fixture(autouse=True)
def _delayed_events_on(settings, monkeypatch):
    settings.HS = settings.HS.replace(max_event_delay_duration_ms=MAX_DELAY_MS)
    monkeypatch.setattr(wakeups, "IN_PROCESS_THREAD", False)
    monkeypatch.setattr(handlers, "MGMT_RATE_LIMIT", RateLimit(1000.0, 1000))
    # State group ids are reused after a test's rollback on SQLite: never carry cached groups over.
    state_store.clear_cache()
    yield
    state_store.clear_cache()
