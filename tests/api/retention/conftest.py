"""Fixtures of the message-retention tests: the `retention` config section changed per test, and a
controllable clock for the retention rules (`apps.retention.handlers.now_ms`), so "two days later" needs no
waiting."""
from __future__ import annotations

import dataclasses
import time

import pytest

from apps.rooms import state_store
from hsproject.config.sections import RetentionConfig


@pytest.fixture(autouse=True)
def _fresh_state_cache():
    # State group ids are reused after a test's rollback on SQLite: never carry cached groups over.
    state_store.clear_cache()
    yield
    state_store.clear_cache()


@pytest.fixture
def retention(settings):
    """`retention(enabled=True, default_max_lifetime_ms=...)`: the section for this test (purge_jobs as
    RetentionPurgeJob tuples)."""
    def change(**changes) -> RetentionConfig:
        settings.HS = settings.HS.replace(retention=dataclasses.replace(RetentionConfig(), **changes))
        return settings.HS.retention
    return change


class Clock:
    def __init__(self):
        self.offset_ms = 0

    def advance(self, ms: int) -> None:
        self.offset_ms += ms

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.offset_ms


@pytest.fixture
def clock(monkeypatch) -> Clock:
    from apps.retention import handlers

    c = Clock()
    monkeypatch.setattr(handlers, "now_ms", c.now_ms)
    return c

