"""Leases: the one sender of a piece of queued work (a pusher, an application service, a federation
destination, a one-off job), among any number of Celery workers.

A lease is two columns on the work's row, `lease_owner` and `lease_until_ms`, taken by one conditional
UPDATE (atomic on PostgreSQL and SQLite alike, and no lock is held while the work is on the wire). It is
free when nobody holds it, when it ran out, or when its holder is a process of this host that no longer
exists (a worker killed mid-send), so such work resumes at once rather than after the lease's length.
Every write made under a lease goes through `update_if_held`, so a holder whose lease ran out changes
nothing.
"""
from __future__ import annotations

import os
import socket
import time
import uuid

from django.db.models import Model, Q

_owners: dict[int, str] = {}


def now_ms() -> int:
    return int(time.time() * 1000)


def this_owner() -> str:
    """This process's owner name, `host:pid:nonce`, made after any fork (each Celery prefork child has
    its own)."""
    pid = os.getpid()
    if pid not in _owners:
        _owners[pid] = f"{socket.gethostname()}:{pid}:{uuid.uuid4().hex[:8]}"
    return _owners[pid]


def new_owner() -> str:
    """An owner name of its own for one holder (say, one delivery run), still `host:pid:...` so that its
    process's death frees the lease; for work that two threads of one process must not share."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def owner_is_gone(owner: str) -> bool:
    """Only a process of this host can be known to be gone; any other owner waits for its lease to end."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def take(model: type[Model], key: dict, owner: str, lease_ms: int) -> bool:
    """Become (or stay) the holder of the lease on the row `key` of `model` until now + lease_ms; False if
    someone else holds it. The row must exist."""
    now = now_ms()
    free = Q(lease_owner__isnull=True) | Q(lease_until_ms__isnull=True) | Q(lease_until_ms__lt=now) | Q(
        lease_owner=owner)
    holder = model.objects.filter(**key).values_list("lease_owner", flat=True).first()
    if holder and holder != owner and owner_is_gone(holder):
        free |= Q(lease_owner=holder)
    return model.objects.filter(free, **key).update(lease_owner=owner, lease_until_ms=now + lease_ms) == 1


def release(model: type[Model], key: dict, owner: str) -> None:
    model.objects.filter(lease_owner=owner, **key).update(lease_owner=None, lease_until_ms=None)


def update_if_held(model: type[Model], key: dict, owner: str, **fields) -> bool:
    """Write `fields` to the row only while `owner` holds its lease."""
    return model.objects.filter(lease_owner=owner, **key).update(**fields) == 1


def is_held(model: type[Model], key: dict, owner: str) -> bool:
    return model.objects.filter(lease_owner=owner, **key).exists()
