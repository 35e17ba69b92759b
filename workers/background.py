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


@app.task(base=WakeupTask, name="background.clean_media")
def clean_media() -> dict:
    """Forget async uploads that never came, apply `media_retention` (local media, and the cache of remote
    media). Runs only where
    `media_instance_running_background_jobs` says (any instance when it is unset)."""
    from django.conf import settings

    from apps.media.handlers import apply_media_retention, expire_pending_uploads, expire_remote_media_cache

    where = settings.HS.workers.media_instance_running_background_jobs
    if where is not None and where != settings.HS.workers.instance_name:
        return {"skipped": where}
    from apps.media.previews import expire_url_cache

    return {"expired_pending": expire_pending_uploads(), "retention_deleted": apply_media_retention(),
            "remote_cache_expired": expire_remote_media_cache(), "url_previews_expired": expire_url_cache()}
