"""Fixtures of the admin API tests: a server admin's client (`root`). The tests that run jobs commit for
real (`transaction=True`): a job is woken after its row commits."""
from __future__ import annotations

import pytest

from apps.rooms import state_store
from tests.api.admin_api.helpers import make_admin


@pytest.fixture(autouse=True)
def _fresh_state_cache():
    # State group ids are reused after a test's rollback on SQLite, and purges delete groups.
    state_store.clear_cache()
    yield
    state_store.clear_cache()


@pytest.fixture
def root(db, client_factory):
    return make_admin(client_factory, "root")
