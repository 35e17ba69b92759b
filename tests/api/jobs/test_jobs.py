"""One-off jobs on the `background` queue (apps.jobs): the durable row records the work and its progress,
a message only wakes a worker; a worker holds a job under a lease, and a job whose worker died (lease
expired) or whose wake-up was lost is woken by the sweep and resumed where it stopped."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from apps.accounts.models import User
from apps.jobs import handlers, kinds, stores
from apps.jobs.handlers import LeaseLost, Progress, start_job
from apps.jobs.models import Job
from apps.rooms import purge as purge_module
from apps.rooms import state_store
from apps.rooms.models import EventRow
from tests.api.admin_api.helpers import message_bodies, say
from tests.api.rooms.helpers import API, create_room
from workers import background

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_state_cache():
    state_store.clear_cache()
    yield
    state_store.clear_cache()


class WorkerKilled(BaseException):
    """Stands for the worker process dying mid-job (not an error the job could record)."""


def room_with_history(alice, n: int) -> tuple[str, list[str], str]:
    room_id = create_room(alice)
    old = [say(alice, room_id, f"old {i}") for i in range(n)]
    point = say(alice, room_id, "kept")
    return room_id, old, point


def purge_params(room_id: str, point: str) -> dict:
    return {"room_id": room_id, "before_stream_ordering": EventRow.objects.get(event_id=point).stream_ordering,
            "delete_local_events": True}


def test_a_job_records_its_progress_and_timings(alice):
    room_id, old, point = room_with_history(alice, 4)
    job = start_job(kinds.PURGE_HISTORY, purge_params(room_id, point), target=room_id)
    job.refresh_from_db()
    assert job.status == Job.COMPLETE and job.error == "" and job.attempts == 1
    # Examined: the 4 messages and the room's creation (state events leave the timeline, not the room).
    assert job.progress_done == job.progress_total and job.progress_total >= 5
    assert job.result["deleted"] == 4 and job.result["hidden"] == job.progress_total - 4
    assert job.created_at <= job.started_at <= job.finished_at
    assert job.lease_owner is None and job.lease_expires_at is None
    assert message_bodies(alice, room_id) == ["kept"]


def test_a_job_whose_worker_died_is_resumed_by_the_sweep(alice, monkeypatch):
    monkeypatch.setattr(purge_module, "BATCH_SIZE", 2)
    room_id, old, point = room_with_history(alice, 6)
    # A worker claims the job and dies after its first batch: its lease then runs out.
    job = stores.create(kinds.PURGE_HISTORY, purge_params(room_id, point), room_id)
    claimed = stores.claim(job.pk, "dead-worker", lease_s=120)
    progress = Progress(job.pk, "dead-worker")

    def dies_after_first_batch(done, total=None, **kw):
        progress(done, total, **kw)
        raise WorkerKilled()

    with pytest.raises(WorkerKilled):
        kinds.run_purge_history(claimed, dies_after_first_batch)
    job.refresh_from_db()
    total = job.progress_total
    assert job.status == Job.RUNNING and job.progress_done == 2 and total > 2
    # While its lease lasts nobody else takes the job; then the lease runs out (the clock moves on).
    assert background.sweep_jobs() == []
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))

    assert background.sweep_jobs() == [job.pk]
    job.refresh_from_db()
    assert job.status == Job.COMPLETE and job.attempts == 2 and job.lease_owner is None
    # Progress counts on from where the dead worker stopped, and all the work is done once.
    assert job.progress_done == job.progress_total == total
    assert not EventRow.objects.filter(event_id__in=old).exists()
    assert message_bodies(alice, room_id) == ["kept"]
    assert background.sweep_jobs() == []


def test_a_pending_job_whose_wake_up_was_lost_is_run_by_the_sweep(alice):
    room_id, old, point = room_with_history(alice, 2)
    job = stores.create(kinds.PURGE_HISTORY, purge_params(room_id, point), room_id)  # no message sent
    assert background.sweep_jobs() == [job.pk]
    job.refresh_from_db()
    assert job.status == Job.COMPLETE
    assert not EventRow.objects.filter(event_id__in=old).exists()


def test_a_job_under_a_live_lease_is_left_to_its_worker(alice):
    room_id, old, point = room_with_history(alice, 2)
    job = stores.create(kinds.PURGE_HISTORY, purge_params(room_id, point), room_id)
    assert stores.claim(job.pk, "busy-worker", lease_s=120) is not None
    assert background.sweep_jobs() == []
    assert background.run_job(job.pk) == "not claimable"
    job.refresh_from_db()
    assert job.status == Job.RUNNING and job.lease_owner == "busy-worker" and job.attempts == 1
    assert EventRow.objects.filter(event_id__in=old).count() == len(old)


def test_a_run_that_lost_its_lease_stops_and_writes_nothing(alice):
    room_id, old, point = room_with_history(alice, 2)
    job = stores.create(kinds.PURGE_HISTORY, purge_params(room_id, point), room_id)
    stores.claim(job.pk, "slow-worker", lease_s=-1)
    # Its lease expired: another worker takes the job over.
    assert stores.claim(job.pk, "new-worker", lease_s=120) is not None
    with pytest.raises(LeaseLost):
        Progress(job.pk, "slow-worker")(1, 2)
    assert not stores.finish(job.pk, "slow-worker", Job.COMPLETE, result={"stale": True})
    job.refresh_from_db()
    assert job.status == Job.RUNNING and job.lease_owner == "new-worker" and job.result == {}


def test_a_failed_job_records_why_and_can_be_run_again(alice):
    job = start_job(kinds.PURGE_HISTORY, {"room_id": "!gone:test.local", "before_stream_ordering": 5,
                                          "delete_local_events": False}, target="!gone:test.local")
    job.refresh_from_db()
    assert job.status == Job.FAILED and job.error == "Unknown room" and job.finished_at is not None
    assert background.sweep_jobs() == []  # a failed job is not retried by itself
    assert handlers.retry_failed([job.pk]) == [job.pk]
    job.refresh_from_db()
    assert job.status == Job.FAILED and job.attempts == 1  # ran again (attempts were reset), failed again


def test_the_jobs_console_lists_jobs_with_progress_and_filters(alice):
    room_id, old, point = room_with_history(alice, 3)
    done = start_job(kinds.PURGE_HISTORY, purge_params(room_id, point), target=room_id)
    failed = start_job(kinds.PURGE_HISTORY, {"room_id": "!gone:test.local", "before_stream_ordering": 5},
                       target="!gone:test.local")
    done.refresh_from_db()
    root = User.objects.create_user("root", "pw", admin=True)
    console = Client()
    console.force_login(root)
    page = console.get("/admin/jobs/job/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f"{done.progress_done} / {done.progress_total} (100%)" in html
    assert "Unknown room" in html and room_id in html
    only_failed = console.get("/admin/jobs/job/?status__exact=failed").content.decode()
    assert "!gone:test.local" in only_failed and room_id not in only_failed
    detail = console.get(f"/admin/jobs/job/{done.pk}/change/")
    assert detail.status_code == 200 and "before_stream_ordering" in detail.content.decode()
    assert console.get("/admin/jobs/job/add/").status_code == 403
    # Run again from the console: only failed jobs are.
    resp = console.post("/admin/jobs/job/", {"action": "retry_jobs", "_selected_action": [done.pk, failed.pk]},
                        follow=True)
    assert resp.status_code == 200 and f"#{failed.pk}" in resp.content.decode()
    failed.refresh_from_db()
    assert failed.status == Job.FAILED and failed.attempts == 1


def test_an_unknown_kind_is_refused_before_anything_is_stored(db):
    from apps.jobs.registry import UnknownKind

    with pytest.raises(UnknownKind):
        start_job("no_such_kind", {})
    assert not Job.objects.exists()


def test_sending_still_works_while_a_purge_is_interrupted(alice, monkeypatch):
    monkeypatch.setattr(purge_module, "BATCH_SIZE", 1)
    room_id, old, point = room_with_history(alice, 3)
    calls = []

    def stop_after_two(done, total):
        calls.append(done)
        if done == 2:
            raise WorkerKilled()

    with pytest.raises(WorkerKilled):
        purge_module.purge_history(room_id, EventRow.objects.get(event_id=point).stream_ordering, True,
                                   stop_after_two)
    # The room is consistent between batches: it can be used, and the purge finished later.
    say(alice, room_id, "meanwhile")
    result = purge_module.purge_history(room_id, EventRow.objects.get(event_id=point).stream_ordering, True)
    assert result.deleted + result.hidden > 0 and calls == [1, 2]
    assert message_bodies(alice, room_id) == ["kept", "meanwhile"]
    assert alice.get(f"{API}/rooms/{room_id}/joined_members").json_body["joined"].keys() == {alice.user_id}
