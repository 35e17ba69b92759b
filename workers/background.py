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


@app.task(base=WakeupTask, name="background.delete_stale_devices")
def delete_stale_devices() -> dict:
    """Delete devices not seen for `delete_stale_devices_after` (off when unset), as a client's device
    deletion does; on the `device_lists` writer (main), to which other instances forward the batches."""
    from apps.accounts.housekeeping import delete_stale_devices as run

    return run()


@app.task(base=WakeupTask, name="background.send_delayed_events")
def send_delayed_events() -> dict:
    """Send the delayed events (MSC4140) that have fallen due: woken with a countdown when one is scheduled
    or restarted, and by the beat's sweep. Each row is claimed before it is sent, so any number of
    workers may run this at once."""
    from apps.delayed_events.handlers import send_due

    result = send_due()
    if result["more"]:
        send_delayed_events.delay()  # a full batch: the rest at once, not at the next sweep
    return result


@app.task(base=WakeupTask, name="background.update_room_stats")
def update_room_stats() -> dict:
    """Bring the room and user statistics (apps.room_stats) up to the `events` stream from their durable
    position, and compute rooms and users never computed; nothing when `stats.enabled` is false."""
    from apps.room_stats.updater import update_room_stats as run

    return run()


@app.task(base=WakeupTask, name="background.run_job")
def run_job(job_id: int) -> str:
    """Run one one-off job (apps.jobs: purge history, deactivate a user, ...) if no other worker holds
    its lease; the job's row is the record of the work, this message only the wake-up."""
    from apps.jobs.handlers import run_job as run

    return run(job_id)


@app.task(base=WakeupTask, name="background.sweep_jobs")
def sweep_jobs() -> list[int]:
    """Wake the one-off jobs nobody holds: pending ones whose message was lost, and running ones whose
    worker died (lease expired), which another worker then resumes."""
    from apps.jobs.handlers import sweep

    woken = sweep()
    for job_id in woken:
        run_job.delay(job_id)
    return woken


@app.task(base=WakeupTask, name="background.purge_expired_events")
def purge_expired_events(job_index: int) -> dict:
    """Message retention: run `retention.purge_jobs[job_index]`, purging in every room whose effective
    max_lifetime lies in the job's range the events older than it (apps.retention); nothing while
    retention is off. Scheduled once per job, every job's `interval` (workers.beat)."""
    from apps.retention.handlers import purge_expired

    return purge_expired(job_index)


@app.task(base=WakeupTask, name="background.rebuild_user_directory")
def rebuild_user_directory() -> dict:
    """Recompute the user directory's tables (apps.user_directory_index) from the rooms' current state; on
    demand (`rebuild_user_directory.delay()`), batched and idempotent. Runs only where
    `update_user_directory_from_worker` says (any instance when it is unset)."""
    from django.conf import settings

    where = settings.HS.workers.update_user_directory_from_worker
    if where is not None and where != settings.HS.workers.instance_name:
        return {"skipped": where}
    from apps.user_directory_index.index import rebuild

    return rebuild()
