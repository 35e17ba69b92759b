"""The periodic retention purge (`background.purge_expired_events`, one run per `retention.purge_jobs`
entry, scheduled by workers.beat): rooms whose effective max_lifetime lies in the job's range lose the
history older than it, local events included; other rooms keep theirs; the room stays usable. Run through
Celery (eagerly in the fast tier), with the retention clock moved forward (`clock`)."""
from __future__ import annotations

import pytest

from apps.rooms.models import EventRow
from hsproject.config.sections import RetentionConfig, RetentionPurgeJob
from tests.api.rooms.helpers import API, create_room
from tests.api.retention.helpers import DAY, message_bodies, messages, say, set_policy
from tests.api.sync.helpers import sync
from workers import background, beat

pytestmark = pytest.mark.django_db(transaction=True)

# Synapse's example: rooms keeping at most three days purged twice a day, the others daily.
JOBS = (RetentionPurgeJob(longest_max_lifetime_ms=3 * DAY, interval_ms=DAY // 2),
        RetentionPurgeJob(shortest_max_lifetime_ms=3 * DAY, interval_ms=DAY))


def _stored(event_ids: list[str]) -> set[str]:
    return set(EventRow.objects.filter(event_id__in=event_ids).values_list("event_id", flat=True))


def _chatter(client, room_id: str, n: int = 3) -> list[str]:
    return [say(client, room_id, f"message {i}") for i in range(n)]


def test_a_job_purges_the_rooms_in_its_range_only(alice, retention, clock):
    retention(enabled=True, purge_jobs=JOBS)
    short, long, unset = create_room(alice), create_room(alice), create_room(alice)
    set_policy(alice, short, {"max_lifetime": DAY})
    set_policy(alice, long, {"max_lifetime": 10 * DAY})
    said = {room: _chatter(alice, room) for room in (short, long, unset)}
    clock.advance(20 * DAY)

    result = background.purge_expired_events.delay(0).get()

    assert list(result["purged"]) == [short] and result["purged"][short]["deleted"] == 2
    # The last event received before the cut is kept (as Synapse); the older ones are gone, local or not.
    assert _stored(said[short]) == {said[short][-1]}
    assert _stored(said[long]) == set(said[long])
    assert _stored(said[unset]) == set(said[unset])

    result = background.purge_expired_events.delay(1).get()
    assert list(result["purged"]) == [long]
    assert _stored(said[long]) == {said[long][-1]}
    assert _stored(said[unset]) == set(said[unset])  # no policy, no default: kept forever


def test_the_room_stays_usable_after_a_purge(alice, bob, retention, clock):
    retention(enabled=True, purge_jobs=JOBS)
    room_id = create_room(alice, preset="public_chat", name="Still here")
    set_policy(alice, room_id, {"max_lifetime": DAY})
    _chatter(alice, room_id)
    clock.advance(2 * DAY)
    assert background.purge_expired_events.delay(0).get()["purged"]

    clock.offset_ms = 0  # back to the real time: what is sent now is young
    assert bob.post(f"{API}/join/{room_id}").status_code == 200
    fresh = say(alice, room_id, "after the purge")
    # The newest message of before the purge was its cut, and is kept.
    assert message_bodies(messages(bob, room_id)) == ["after the purge", "message 2"]
    assert fresh in {e["event_id"] for e in sync(bob)["rooms"]["join"][room_id]["timeline"]["events"]}
    assert bob.get(f"{API}/rooms/{room_id}/state/m.room.name").json_body == {"name": "Still here"}
    members = alice.get(f"{API}/rooms/{room_id}/joined_members").json_body["joined"]
    assert set(members) == {alice.user_id, bob.user_id}
    # Running the job again finds nothing more to take but what came since.
    assert background.purge_expired_events.delay(0).get()["purged"] == {}


def test_the_default_policy_puts_rooms_without_one_in_a_job(alice, retention, clock):
    retention(enabled=True, default_max_lifetime_ms=DAY, purge_jobs=JOBS)
    plain = create_room(alice)
    own = create_room(alice)
    set_policy(alice, own, {"max_lifetime": 10 * DAY})
    said = {room: _chatter(alice, room) for room in (plain, own)}
    clock.advance(5 * DAY)
    assert list(background.purge_expired_events.delay(0).get()["purged"]) == [plain]
    assert _stored(said[plain]) == {said[plain][-1]}
    # The 10-day room is job 1's, and has nothing old enough yet.
    assert background.purge_expired_events.delay(1).get()["purged"] == {}
    assert _stored(said[own]) == set(said[own])


def test_jobs_go_by_the_clamped_lifetime(alice, retention, clock):
    retention(enabled=True, allowed_lifetime_max_ms=2 * DAY, purge_jobs=JOBS)
    room_id = create_room(alice)
    set_policy(alice, room_id, {"max_lifetime": 365 * DAY})  # two days in effect: job 0's
    said = _chatter(alice, room_id)
    clock.advance(3 * DAY)
    assert background.purge_expired_events.delay(1).get()["purged"] == {}
    assert list(background.purge_expired_events.delay(0).get()["purged"]) == [room_id]
    assert _stored(said) == {said[-1]}


def test_an_invalid_policy_puts_no_room_in_a_job(alice, retention, clock):
    retention(enabled=True, purge_jobs=(RetentionPurgeJob(),))
    room_id = create_room(alice)
    set_policy(alice, room_id, {"max_lifetime": "1000"})
    said = _chatter(alice, room_id)
    clock.advance(365 * DAY)
    assert background.purge_expired_events.delay(0).get()["purged"] == {}
    assert _stored(said) == set(said)


def test_disabled_retention_purges_nothing(alice, retention, clock):
    retention(enabled=False, default_max_lifetime_ms=DAY, purge_jobs=(RetentionPurgeJob(),))
    room_id = create_room(alice)
    set_policy(alice, room_id, {"max_lifetime": 1000})
    said = _chatter(alice, room_id)
    clock.advance(365 * DAY)
    assert background.purge_expired_events.delay(0).get() == {"skipped": "retention is disabled"}
    assert _stored(said) == set(said)


def test_a_job_the_configuration_no_longer_has_does_nothing(alice, retention, clock):
    retention(enabled=True, default_max_lifetime_ms=DAY, purge_jobs=(RetentionPurgeJob(),))
    room_id = create_room(alice)
    said = _chatter(alice, room_id)
    clock.advance(365 * DAY)
    assert background.purge_expired_events.delay(1).get() == {"skipped": "no purge job 1"}
    assert _stored(said) == set(said)


def test_beat_schedules_one_row_per_job_only_while_enabled(settings):
    assert beat.retention_rows(RetentionConfig(enabled=False, purge_jobs=JOBS)) == {}
    rows = beat.retention_rows(RetentionConfig(enabled=True, purge_jobs=JOBS))
    assert rows == {
        "retention-purge-0": {"task": "background.purge_expired_events", "schedule": 43_200.0, "args": (0,)},
        "retention-purge-1": {"task": "background.purge_expired_events", "schedule": 86_400.0, "args": (1,)},
    }
    # The rows reach the Celery schedule when the task modules are imported (beat's start, local beat's).
    from hsproject.celery import app

    settings.HS = settings.HS.replace(retention=RetentionConfig(enabled=True, purge_jobs=JOBS))
    try:
        app.loader.import_default_modules()
        assert {k: app.conf.beat_schedule[k] for k in rows} == rows
        assert app.tasks["background.purge_expired_events"].name == "background.purge_expired_events"
    finally:
        for key in rows:
            app.conf.beat_schedule.pop(key, None)
