"""Every query of the jobs app. A run's claim on a job is a compare-and-set UPDATE (pending, or running
with an expired lease -> running with this owner's lease): one statement, so two workers woken for the
same job never both get it, on PostgreSQL and SQLite alike, and nothing stays locked between the
statements of a run. Every later write of a run names its owner, so a run whose lease was taken over
writes nothing more."""
from __future__ import annotations

from datetime import timedelta
from typing import Any, Iterable

from django.db.models import DateTimeField, F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import Job


def create(kind: str, params: dict[str, Any], target: str = "") -> Job:
    return Job.objects.create(kind=kind, params=params, target=target)


def get(job_id: int) -> Job | None:
    return Job.objects.filter(pk=job_id).first()


def _claimable(now) -> Q:
    return Q(status=Job.PENDING) | Q(status=Job.RUNNING, lease_expires_at__lt=now)


def claim(job_id: int, owner: str, lease_s: float) -> Job | None:
    """The job, now leased to `owner`, when it was pending or its lease had expired; else None."""
    now = timezone.now()
    claimed = Job.objects.filter(_claimable(now), pk=job_id).update(
        status=Job.RUNNING, lease_owner=owner, lease_expires_at=now + timedelta(seconds=lease_s),
        attempts=F("attempts") + 1,
        started_at=Coalesce(F("started_at"), Value(now, output_field=DateTimeField())))
    return Job.objects.get(pk=job_id) if claimed else None


def renew(job_id: int, owner: str, lease_s: float, *, done: int | None = None, total: int | None = None,
          result: dict | None = None) -> bool:
    """Record progress and extend the lease; False when `owner` no longer holds the job."""
    values: dict[str, Any] = {"lease_expires_at": timezone.now() + timedelta(seconds=lease_s)}
    if done is not None:
        values["progress_done"] = done
    if total is not None:
        values["progress_total"] = total
    if result is not None:
        values["result"] = result
    return bool(Job.objects.filter(pk=job_id, status=Job.RUNNING, lease_owner=owner).update(**values))


def finish(job_id: int, owner: str, status: str, *, result: dict | None = None, error: str = "") -> bool:
    values: dict[str, Any] = {"status": status, "error": error, "finished_at": timezone.now(),
                              "lease_owner": None, "lease_expires_at": None}
    if result is not None:
        values["result"] = result
    return bool(Job.objects.filter(pk=job_id, status=Job.RUNNING, lease_owner=owner).update(**values))


def release(job_id: int, owner: str, error: str) -> bool:
    """Back to pending (a transient failure): the sweep wakes it again."""
    return bool(Job.objects.filter(pk=job_id, status=Job.RUNNING, lease_owner=owner).update(
        status=Job.PENDING, error=error, lease_owner=None, lease_expires_at=None))


def wakeable(limit: int) -> list[int]:
    """Jobs no worker holds: pending ones, and running ones whose lease expired (their worker died)."""
    return list(Job.objects.filter(_claimable(timezone.now())).order_by("id").values_list("id", flat=True)[:limit])


def active(kind: str, target: str) -> list[Job]:
    return list(Job.objects.filter(kind=kind, target=target, status__in=(Job.PENDING, Job.RUNNING)).order_by("id"))


def reset_failed(job_ids: Iterable[int]) -> list[int]:
    """Failed jobs back to pending (to be run again: runners continue where they stopped)."""
    ids = list(Job.objects.filter(pk__in=list(job_ids), status=Job.FAILED).values_list("id", flat=True))
    Job.objects.filter(pk__in=ids, status=Job.FAILED).update(status=Job.PENDING, error="", finished_at=None,
                                                             attempts=0)
    return ids
