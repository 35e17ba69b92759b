"""Starting and running one-off jobs on the `background` queue (DESIGN section 6: a Celery message is a
wake-up, never the only record of work).

    start_job(kind, params)   insert the `Job` row; `background.run_job(job_id)` is enqueued once the
                              caller's transaction commits (with no broker, the embedded default, the
                              job runs in this process at the commit)
    run_job(job_id)           the task's body: claim the job's lease, run its kind's runner with a
                              progress callback that renews the lease, record complete / failed
    sweep()                   the beat task's body (every minute): wake the pending jobs and those whose
                              lease expired (a worker killed mid-job, a lost message); another worker
                              then resumes them

A failure is recorded on the job (`error`) and the job stops there (`failed`); the Django admin can send
failed jobs round again. A transient failure (the database or the network went away) puts the job back
to pending for the sweep, at most `MAX_ATTEMPTS` runs in all.
"""
from __future__ import annotations

import logging
import os
import uuid
from typing import Any

from django.db import InterfaceError, OperationalError

from apps.core.errors import MatrixError

from . import registry, stores
from .models import Job

logger = logging.getLogger(__name__)

# A run renews its lease with every progress report; a run silent for this long is presumed dead.
LEASE_SECONDS = 120
MAX_ATTEMPTS = 5
SWEEP_LIMIT = 100
_TRANSIENT = (OSError, OperationalError, InterfaceError)


class LeaseLost(Exception):
    """This run no longer holds the job: another worker took it over after the lease expired."""


def _owner() -> str:
    from hsproject import instance

    return f"{instance.name()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Progress:
    """The callback a runner reports through: `progress(done, total=None, *, result=None)`."""

    def __init__(self, job_id: int, owner: str):
        self.job_id = job_id
        self.owner = owner

    def __call__(self, done: int, total: int | None = None, *, result: dict | None = None) -> None:
        if not stores.renew(self.job_id, self.owner, LEASE_SECONDS, done=done, total=total, result=result):
            raise LeaseLost(f"job {self.job_id}: lease lost by {self.owner}")


def start_job(kind: str, params: dict[str, Any], *, target: str = "") -> Job:
    """Record a job and wake a worker for it after the current transaction commits."""
    from workers.background import run_job as run_job_task
    from workers.base import enqueue_on_commit

    registry.runner_for(kind)  # an unknown kind is a programming error: raised before anything is stored
    job = stores.create(kind, params, target)
    enqueue_on_commit(run_job_task, job.pk)
    return job


def run_job(job_id: int) -> str:
    """Run the job if no other worker holds it; what happened, for the task's log line."""
    owner = _owner()
    job = stores.claim(job_id, owner, LEASE_SECONDS)
    if job is None:
        return "not claimable"  # done, failed, unknown, or another worker holds a live lease
    try:
        runner = registry.runner_for(job.kind)
        result = runner(job, Progress(job.pk, owner))
    except LeaseLost:
        logger.warning("job %s (%s): lease lost, another worker continues it", job.pk, job.kind)
        return "lease lost"
    except registry.UnknownKind:
        stores.finish(job.pk, owner, Job.FAILED, error=f"Unknown job kind {job.kind!r}")
        return Job.FAILED
    except MatrixError as e:
        stores.finish(job.pk, owner, Job.FAILED, error=e.error)
        return Job.FAILED
    except _TRANSIENT as e:
        if job.attempts < MAX_ATTEMPTS:
            logger.warning("job %s (%s): transient failure, to be retried: %s", job.pk, job.kind, e)
            stores.release(job.pk, owner, error=f"{type(e).__name__}: {e} (will be retried)")
            return "retry"
        logger.exception("job %s (%s) failed after %s attempts", job.pk, job.kind, job.attempts)
        stores.finish(job.pk, owner, Job.FAILED, error=f"{type(e).__name__}: {e}")
        return Job.FAILED
    except Exception as e:  # noqa: BLE001 - recorded on the job for the admin to see
        logger.exception("job %s (%s) failed", job.pk, job.kind)
        stores.finish(job.pk, owner, Job.FAILED, error=f"{type(e).__name__}: {e}")
        return Job.FAILED
    if not stores.finish(job.pk, owner, Job.COMPLETE, result=result if isinstance(result, dict) else None):
        return "lease lost"
    return Job.COMPLETE


def sweep(limit: int = SWEEP_LIMIT) -> list[int]:
    """The jobs to wake: pending, or running under an expired lease."""
    return stores.wakeable(limit)


def retry_failed(job_ids) -> list[int]:
    """Send failed jobs round again (the Django admin's action); the jobs woken."""
    from workers.background import run_job as run_job_task
    from workers.base import enqueue_on_commit

    ids = stores.reset_failed(job_ids)
    for job_id in ids:
        enqueue_on_commit(run_job_task, job_id)
    return ids
