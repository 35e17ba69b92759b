"""One-off background jobs (DESIGN section 6: the `background` queue): purge a room's history,
deactivate a user, and whatever other app registers a kind for (`registry`).

A `Job` row is the durable record of the work; a Celery message (`background.run_job`) is only the
wake-up. `status` goes pending -> running -> complete | failed. A worker running a job holds its lease
(`lease_owner` until `lease_expires_at`), renewed with every progress report; a worker killed mid-job
leaves a lease that expires, and the beat sweep (`background.sweep_jobs`) wakes the job for another
worker, which resumes it: every runner is idempotent and continues where the last run stopped.
`progress_done` / `progress_total` are what the runner reported (total NULL while unknown); `result`
is what the runner returned (or left for its next run); `error` says why a job failed.
"""
from __future__ import annotations

from django.db import models


class Job(models.Model):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    STATUSES = (PENDING, RUNNING, COMPLETE, FAILED)

    kind = models.CharField(max_length=64)
    params = models.JSONField(default=dict)
    target = models.CharField(max_length=255, blank=True, default="",
                              help_text="What the job works on (a room or user ID), for the admin to find it.")
    status = models.CharField(max_length=16, choices=[(s, s) for s in STATUSES], default=PENDING)
    progress_done = models.BigIntegerField(default=0)
    progress_total = models.BigIntegerField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")
    attempts = models.IntegerField(default=0, help_text="How many runs claimed the job.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=255, null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "background_jobs"
        ordering = ("-id",)
        indexes = [
            models.Index(fields=["status", "lease_expires_at"], name="background_jobs_wake"),
            models.Index(fields=["kind", "target", "status"], name="background_jobs_target"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}" + (f" ({self.target})" if self.target else "")
