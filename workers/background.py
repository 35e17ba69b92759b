"""Tasks of the `background` queue: periodic housekeeping (DESIGN section 6, Synapse's
`run_background_tasks_on`). Each task is idempotent and safe to run on any number of workers at once."""
from __future__ import annotations

from hsproject.celery import app

from .base import WakeupTask


@app.task(base=WakeupTask, name="background.expire_tokens")
def expire_tokens() -> dict:
    """Delete expired access/refresh tokens and abandoned user-interactive auth sessions."""
    from apps.accounts.housekeeping import expire_tokens_and_sessions

    return expire_tokens_and_sessions()
