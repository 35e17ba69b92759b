"""What every task shares: late acks, rejection on worker loss, bounded exponential retries, and the
rule that a task is only ever enqueued after the transaction that recorded its work commits."""
from __future__ import annotations

import logging
import time

from celery import Task
from django.db import transaction

logger = logging.getLogger("hsproject.tasks")


class WakeupTask(Task):
    acks_late = True
    reject_on_worker_lost = True
    autoretry_for = (OSError,)
    retry_backoff = True
    retry_backoff_max = 600
    retry_jitter = True
    max_retries = 8

    def __call__(self, *args, **kwargs):
        start = time.monotonic()
        try:
            return super().__call__(*args, **kwargs)
        finally:
            logger.info("task %s %s took %.3fs", self.name, args, time.monotonic() - start)


def enqueue_on_commit(task, *args, **kwargs) -> None:
    """Wake `task` once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(lambda: task.delay(*args, **kwargs))
