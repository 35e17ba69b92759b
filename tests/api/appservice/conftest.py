"""Fixtures of the application-service tests: a real service over HTTP and its registration."""
from __future__ import annotations

import pytest

from tests.api.appservice.support import FakeAppService


@pytest.fixture
def fake_as():
    service = FakeAppService().start()
    yield service
    service.stop()


@pytest.fixture(autouse=True)
def _no_retry_timers(monkeypatch):
    # Tests drive retries by calling the task; a timer thread would race them.
    from apps.appservice import wakeups

    monkeypatch.setattr(wakeups, "IN_PROCESS_RETRY_TIMERS", False)
