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
def _deliver_inline(monkeypatch):
    # Deliveries run inline after each commit, and tests drive retries by calling the task: a background
    # thread or a retry timer would race them.
    from apps.appservice import wakeups

    monkeypatch.setattr(wakeups, "IN_PROCESS_THREAD", False)
