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
}
