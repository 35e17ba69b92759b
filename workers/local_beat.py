"""The beat schedule run inside the serving process when there is no broker.

With no configuration (`manage.py runserver`, SQLite, no Redis) Celery runs tasks eagerly and no `celery
beat` process exists, yet a one-process homeserver must still expire tokens, sweep pushers and run every
other periodic job. So the process named by `run_background_tasks_on` runs the same schedule
(`workers.beat`) on one daemon thread, calling each task in-thread when it falls due. With a broker the
real `celery -A hsproject beat` does this and the thread never starts.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone

from celery.schedules import schedule as interval_schedule

logger = logging.getLogger(__name__)

# How long the thread sleeps at most between looks at the schedule.
MAX_SLEEP_S = 30.0


def _as_schedule(spec):
    if isinstance(spec, (int, float)):
        return interval_schedule(timedelta(seconds=spec))
    if isinstance(spec, timedelta):
        return interval_schedule(spec)
    return spec


class LocalBeat:
    name = "local-beat"

    def __init__(self, app, entries: dict) -> None:
        self.app = app
        self.entries = {key: dict(entry, schedule=_as_schedule(entry["schedule"])) for key, entry in entries.items()}
        now = self._now()
        self.last_run = {key: now for key in self.entries}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _now(self) -> datetime:
        return datetime.now(timezone.utc)

    def run_once(self) -> float:
        """Run every entry that is due; return how long to sleep before the next look."""
        from django.db import close_old_connections

        sleep = MAX_SLEEP_S
        for key, entry in self.entries.items():
            due, next_check = entry["schedule"].is_due(self.last_run[key])
            if due:
                self.last_run[key] = self._now()
                task = self.app.tasks.get(entry["task"])
                if task is None:
                    logger.error("scheduled task %s (%s) is not registered", entry["task"], key)
                    continue
                try:
                    task.apply(args=entry.get("args", ()), kwargs=entry.get("kwargs", {}), throw=True)
                except Exception:  # noqa: BLE001 - one job's failure must not stop the schedule
                    logger.exception("scheduled task %s failed", entry["task"])
                finally:
                    close_old_connections()
            sleep = min(sleep, max(float(next_check), 0.5))
        return sleep

    def _run(self) -> None:
        while not self._stop.is_set():
            self._stop.wait(self.run_once())

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


_beat: LocalBeat | None = None


def start_if_brokerless() -> LocalBeat | None:
    """Started at process start (apps.core.process_start) on the background instance when Celery has no
    broker; a no-op otherwise."""
    global _beat
    from django.conf import settings

    from hsproject import instance
    from hsproject.celery import app

    if not settings.CELERY_TASK_ALWAYS_EAGER or not instance.is_background_instance():
        return None
    if _beat is None:
        # A worker imports the task modules at start-up; a serving process has not.
        app.loader.import_default_modules()
        _beat = LocalBeat(app, app.conf.beat_schedule)
        _beat.start()
        logger.info("no broker: running the beat schedule in this process (%d entries)", len(_beat.entries))
    return _beat
