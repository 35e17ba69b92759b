"""The periodic schedule (`celery -A hsproject beat`). Only the instance named by
`run_background_tasks_on` should run beat; the tasks themselves are idempotent either way."""
from celery.schedules import crontab

SCHEDULE = {
    "expire-tokens": {"task": "background.expire_tokens", "schedule": crontab(minute="*/15")},
    "clean-media": {"task": "background.clean_media", "schedule": crontab(minute="*/10")},
    # Wakes application services whose work no message announced (a lost wake-up, an ended backoff).
    "appservice-sweep": {"task": "appservice.sweep", "schedule": crontab(minute="*")},
    # Wakes pushers whose work no message announced (a worker killed mid-send, an ended backoff).
    "pusher-sweep": {"task": "pusher.sweep", "schedule": 30.0},
    # Wakes federation destinations whose work no message announced (a lost wake-up, an ended backoff).
    "federation-sender-sweep": {"task": "federation_sender.sweep", "schedule": 30.0},
    # Sends delayed events (MSC4140) whose countdown wake-up was lost or too far off to be queued.
    "delayed-events-sweep": {"task": "background.send_delayed_events", "schedule": 5.0},
    # Devices not seen for `delete_stale_devices_after` (the task does nothing while it is unset).
    "delete-stale-devices": {"task": "background.delete_stale_devices", "schedule": crontab(minute="7")},
    # Room and user statistics follow the events stream from their durable position.
    "update-room-stats": {"task": "background.update_room_stats", "schedule": crontab(minute="*")},
    # One-off jobs (apps.jobs) whose wake-up was lost or whose worker died mid-job (lease expired).
    "jobs-sweep": {"task": "background.sweep_jobs", "schedule": crontab(minute="*")},
}


# Message retention: one row per `retention.purge_jobs` entry, every `interval`, none while retention is off.
# They come from the configuration, which is loaded with Django: so they are added on Celery's
# `import_modules` signal (sent by `celery beat`, by workers and by workers.local_beat before the schedule is
# read; Celery's Django fix-up sets Django up on the same signal), not when this module is imported, which
# happens while the settings themselves are being imported.
from celery.signals import import_modules  # noqa: E402  (kept with the block it serves)


def retention_rows(retention) -> dict:
    if not retention.enabled:
        return {}
    return {f"retention-purge-{i}": {"task": "background.purge_expired_events", "schedule": job.interval_ms / 1000,
                                     "args": (i,)}
            for i, job in enumerate(retention.purge_jobs)}


@import_modules.connect
def _schedule_retention(sender=None, **_kwargs) -> None:
    from django.conf import settings

    sender.conf.beat_schedule.update(retention_rows(settings.HS.retention))
