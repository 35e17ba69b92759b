"""workers.local_beat: with no broker, the background instance runs the beat schedule itself."""
from __future__ import annotations

from datetime import timedelta

import pytest
from celery.schedules import crontab
from django.conf import settings

from workers import local_beat
from workers.local_beat import LocalBeat


class FakeTask:
    def __init__(self, fail: bool = False):
        self.calls = []
        self.fail = fail

    def apply(self, args=(), kwargs=None, throw=False):
        self.calls.append((tuple(args), kwargs or {}))
        if self.fail:
            raise RuntimeError("job failed")


class FakeApp:
    def __init__(self, **tasks):
        self.tasks = tasks


def _age(beat: LocalBeat, key: str, seconds: float) -> None:
    beat.last_run[key] -= timedelta(seconds=seconds)


def test_an_entry_runs_when_due_and_not_before():
    task = FakeTask()
    beat = LocalBeat(FakeApp(**{"background.x": task}), {"x": {"task": "background.x", "schedule": 60.0,
                                                                "args": (1,), "kwargs": {"k": 2}}})
    sleep = beat.run_once()
    assert task.calls == []
    assert 0.5 <= sleep <= 60.0
    _age(beat, "x", 61)
    beat.run_once()
    assert task.calls == [((1,), {"k": 2})]
    # Ran just now: not due again until the interval has passed.
    beat.run_once()
    assert len(task.calls) == 1


def test_a_failing_job_does_not_stop_the_others():
    bad, good = FakeTask(fail=True), FakeTask()
    beat = LocalBeat(FakeApp(**{"background.bad": bad, "background.good": good}),
                     {"bad": {"task": "background.bad", "schedule": 10.0},
                      "good": {"task": "background.good", "schedule": timedelta(seconds=10)}})
    _age(beat, "bad", 11)
    _age(beat, "good", 11)
    beat.run_once()
    assert len(bad.calls) == 1 and len(good.calls) == 1


def test_crontab_entries_are_understood():
    task = FakeTask()
    beat = LocalBeat(FakeApp(**{"background.c": task}), {"c": {"task": "background.c",
                                                                "schedule": crontab(minute="*")}})
    _age(beat, "c", 120)
    beat.run_once()
    assert len(task.calls) == 1


def test_an_unregistered_task_is_logged_not_raised(caplog):
    beat = LocalBeat(FakeApp(), {"gone": {"task": "background.gone", "schedule": 1.0}})
    _age(beat, "gone", 5)
    beat.run_once()
    assert "background.gone" in caplog.text


def test_the_real_schedule_names_registered_tasks():
    from hsproject.celery import app

    app.loader.import_default_modules()
    for key, entry in app.conf.beat_schedule.items():
        assert entry["task"] in app.tasks, key


@pytest.mark.parametrize("eager,background", [(False, True), (True, False)])
def test_not_started_with_a_broker_or_off_the_background_instance(monkeypatch, eager, background):
    monkeypatch.setattr(settings, "CELERY_TASK_ALWAYS_EAGER", eager)
    monkeypatch.setattr("hsproject.instance.is_background_instance", lambda: background)
    monkeypatch.setattr(local_beat, "_beat", None)
    assert local_beat.start_if_brokerless() is None


def test_started_once_without_a_broker_on_the_background_instance(monkeypatch):
    monkeypatch.setattr(settings, "CELERY_TASK_ALWAYS_EAGER", True)
    monkeypatch.setattr("hsproject.instance.is_background_instance", lambda: True)
    monkeypatch.setattr(local_beat, "_beat", None)
    beat = local_beat.start_if_brokerless()
    try:
        assert beat is not None and beat._thread is not None and beat._thread.is_alive()
        assert local_beat.start_if_brokerless() is beat
    finally:
        beat.stop()
    assert beat._thread is None


def test_celery_beat_refuses_to_start_as_another_instance(monkeypatch):
    from hsproject.celery import _beat_only_where_configured

    monkeypatch.setattr("hsproject.instance.is_background_instance", lambda: False)
    with pytest.raises(SystemExit) as exc:
        _beat_only_where_configured(sender=None)
    assert "run_background_tasks_on" in str(exc.value)
    monkeypatch.setattr("hsproject.instance.is_background_instance", lambda: True)
    _beat_only_where_configured(sender=None)
