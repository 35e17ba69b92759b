"""apps.core.leases: one holder at a time; a lease ends by release, by running out, or by its holder's
process being gone."""
from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from apps.appservice.models import AppServiceState
from apps.core import leases

pytestmark = pytest.mark.django_db

KEY = {"appservice_id": "bridge"}


@pytest.fixture
def row():
    return AppServiceState.objects.create(appservice_id="bridge")


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_one_holder_at_a_time(row):
    a, b = leases.new_owner(), leases.new_owner()
    assert a != b
    assert leases.take(AppServiceState, KEY, a, 60_000)
    assert not leases.take(AppServiceState, KEY, b, 60_000)
    assert leases.take(AppServiceState, KEY, a, 60_000)  # renewing is taking again
    assert not leases.update_if_held(AppServiceState, KEY, b, failures=7)
    assert leases.update_if_held(AppServiceState, KEY, a, failures=1)
    leases.release(AppServiceState, KEY, a)
    assert leases.take(AppServiceState, KEY, b, 60_000)
    row.refresh_from_db()
    assert (row.failures, row.lease_owner) == (1, b)


def test_a_lease_that_ran_out_is_free(row):
    a, b = leases.new_owner(), leases.new_owner()
    assert leases.take(AppServiceState, KEY, a, 60_000)
    AppServiceState.objects.filter(**KEY).update(lease_until_ms=leases.now_ms() - 1)
    assert leases.take(AppServiceState, KEY, b, 60_000)
    assert not leases.is_held(AppServiceState, KEY, a)


def test_the_lease_of_a_dead_process_of_this_host_is_free_at_once(row):
    dead = f"{socket.gethostname()[:40]}:{_dead_pid()}:abc"
    AppServiceState.objects.filter(**KEY).update(lease_owner=dead, lease_until_ms=leases.now_ms() + 600_000)
    assert leases.owner_is_gone(dead)
    assert leases.take(AppServiceState, KEY, leases.new_owner(), 60_000)


def test_a_live_or_foreign_holder_is_waited_for(row):
    alive = f"{socket.gethostname()[:40]}:{os.getppid()}:abc"
    foreign = f"some-other-host:{_dead_pid()}:abc"
    assert not leases.owner_is_gone(alive)
    assert not leases.owner_is_gone(foreign)
    assert not leases.owner_is_gone("not-an-owner")
    for holder in (alive, foreign):
        AppServiceState.objects.filter(**KEY).update(lease_owner=holder, lease_until_ms=leases.now_ms() + 600_000)
        assert not leases.take(AppServiceState, KEY, leases.new_owner(), 60_000)


def test_this_owner_is_stable_within_a_process():
    assert leases.this_owner() == leases.this_owner()
    host, pid, _ = leases.this_owner().split(":")
    assert (host, int(pid)) == (socket.gethostname(), os.getpid())
