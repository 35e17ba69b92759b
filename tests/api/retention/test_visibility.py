"""Events past their room's retention are not served (Synapse `filter_events_for_client`), before any
purge: GET /rooms/{roomId}/messages, /sync, GET /rooms/{roomId}/event/{eventId} and /context. State events
are exempt. The clock of the retention rules is moved forward (`clock`), not waited for."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api.rooms.helpers import API, create_room
from tests.api.sync.helpers import sync
from tests.conftest import assert_error

from tests.api.retention.helpers import DAY, message_bodies, messages, say, set_policy

pytestmark = pytest.mark.django_db(transaction=True)


def _timeline(body, room_id):
    return body["rooms"]["join"][room_id]["timeline"]["events"]


def test_expired_messages_are_hidden_everywhere_state_events_are_not(alice, bob, retention, clock):
    retention(enabled=True)
    room_id = create_room(alice, preset="public_chat", name="Kept name")
    assert bob.post(f"{API}/join/{room_id}").status_code == 200
    policy_id = set_policy(alice, room_id, {"max_lifetime": DAY})
    old = say(alice, room_id, "old")
    assert message_bodies(messages(bob, room_id)) == ["old"]  # served while young

    clock.advance(DAY + 60_000)
    new = say(alice, room_id, "new")  # sent now, by the moved clock's standard: not expired

    chunk = messages(bob, room_id)
    assert message_bodies(chunk) == []  # `new` too: its origin_server_ts is the real time, a day ago
    state_types = {e["type"] for e in chunk}
    assert {"m.room.create", "m.room.member", "m.room.name", "m.room.retention"} <= state_types
    assert_error(bob.get(f"{API}/rooms/{room_id}/event/{old}"), 404, "M_NOT_FOUND")
    assert_error(bob.get(f"{API}/rooms/{room_id}/context/{old}"), 404, "M_NOT_FOUND")
    assert bob.get(f"{API}/rooms/{room_id}/event/{policy_id}").status_code == 200

    body = sync(bob)
    timeline = _timeline(body, room_id)
    assert [e for e in timeline if e["type"] == "m.room.message"] == []
    assert old not in {e["event_id"] for e in timeline} and new not in {e["event_id"] for e in timeline}
    state = {e["type"] for e in body["rooms"]["join"][room_id]["state"]["events"]} | {e["type"] for e in timeline}
    assert "m.room.name" in state and "m.room.retention" in state
    # The room's state stays readable as ever.
    assert bob.get(f"{API}/rooms/{room_id}/state/m.room.name").json_body == {"name": "Kept name"}


def test_a_message_younger_than_the_lifetime_is_served(alice, retention, clock):
    retention(enabled=True)
    room_id = create_room(alice)
    set_policy(alice, room_id, {"max_lifetime": 2 * DAY})
    eid = say(alice, room_id, "young")
    clock.advance(DAY)
    assert message_bodies(messages(alice, room_id)) == ["young"]
    assert alice.get(f"{API}/rooms/{room_id}/event/{eid}").status_code == 200
    assert eid in {e["event_id"] for e in _timeline(sync(alice), room_id)}


def test_incremental_sync_leaves_out_expired_events(alice, retention, clock):
    retention(enabled=True)
    room_id = create_room(alice)
    set_policy(alice, room_id, {"max_lifetime": DAY})
    since = sync(alice)["next_batch"]
    say(alice, room_id, "said before the jump")
    clock.advance(2 * DAY)
    body = sync(alice, since)
    room = body["rooms"]["join"].get(room_id, {"timeline": {"events": []}})
    assert [e for e in room["timeline"]["events"] if e["type"] == "m.room.message"] == []


def test_the_server_default_applies_to_rooms_without_a_policy(alice, retention, clock):
    retention(enabled=True, default_max_lifetime_ms=DAY)
    plain = create_room(alice)
    own = create_room(alice)
    set_policy(alice, own, {"max_lifetime": 10 * DAY})
    say(alice, plain, "in plain")
    say(alice, own, "in own")
    clock.advance(2 * DAY)
    assert message_bodies(messages(alice, plain)) == []
    assert message_bodies(messages(alice, own)) == ["in own"]


def test_the_room_lifetime_is_clamped_to_the_allowed_range(alice, retention, clock):
    retention(enabled=True, allowed_lifetime_min_ms=DAY, allowed_lifetime_max_ms=3 * DAY)
    short = create_room(alice)
    long = create_room(alice)
    set_policy(alice, short, {"max_lifetime": 1000})       # raised to a day
    set_policy(alice, long, {"max_lifetime": 365 * DAY})   # lowered to three days
    say(alice, short, "short")
    say(alice, long, "long")
    clock.advance(DAY // 2)
    assert message_bodies(messages(alice, short)) == ["short"]
    clock.advance(3 * DAY)
    assert message_bodies(messages(alice, long)) == []


@pytest.mark.parametrize("content", [{"max_lifetime": "1000"}, {"max_lifetime": [1000]},
                                     {"min_lifetime": 1, "max_lifetime": True}, {"max_lifetime": None}, {}])
def test_invalid_retention_content_is_ignored(alice, retention, clock, content):
    retention(enabled=True)
    room_id = create_room(alice)
    set_policy(alice, room_id, content)
    say(alice, room_id, "kept")
    clock.advance(365 * DAY)
    assert message_bodies(messages(alice, room_id)) == ["kept"]


def test_an_invalid_policy_replacing_a_valid_one_means_the_default(alice, retention, clock):
    # As Synapse: the room's current retention event is ignored, and an older one does not apply again.
    retention(enabled=True, default_max_lifetime_ms=30 * DAY)
    room_id = create_room(alice)
    set_policy(alice, room_id, {"max_lifetime": DAY})
    set_policy(alice, room_id, {"max_lifetime": "one day"})
    say(alice, room_id, "kept")
    clock.advance(2 * DAY)
    assert message_bodies(messages(alice, room_id)) == ["kept"]
    clock.advance(30 * DAY)
    assert message_bodies(messages(alice, room_id)) == []


def test_a_new_policy_takes_over(alice, retention, clock):
    retention(enabled=True)
    room_id = create_room(alice)
    set_policy(alice, room_id, {"max_lifetime": 100 * DAY})
    say(alice, room_id, "hello")
    clock.advance(2 * DAY)
    assert message_bodies(messages(alice, room_id)) == ["hello"]
    set_policy(alice, room_id, {"max_lifetime": DAY})
    assert message_bodies(messages(alice, room_id)) == []


def test_disabled_retention_hides_nothing(alice, retention, clock):
    retention(enabled=False, default_max_lifetime_ms=DAY)
    room_id = create_room(alice)
    set_policy(alice, room_id, {"max_lifetime": 1000})
    eid = say(alice, room_id, "kept")
    clock.advance(365 * DAY)
    assert message_bodies(messages(alice, room_id)) == ["kept"]
    assert alice.get(f"{API}/rooms/{room_id}/event/{eid}").status_code == 200
    assert eid in {e["event_id"] for e in _timeline(sync(alice), room_id)}


def test_policy_lookup_costs_one_query_per_page(alice, retention, clock):
    """/messages is a hot path: the policy of the page's room is one query, whatever the page holds;
    none while retention is off."""
    room_id = create_room(alice)
    set_policy(alice, room_id, {"max_lifetime": 10 * DAY})
    for i in range(30):
        say(alice, room_id, str(i))

    def count() -> int:
        messages(alice, room_id, limit=5)  # warm
        with CaptureQueriesContext(connection) as ctx:
            assert len(message_bodies(messages(alice, room_id, limit=25))) == 25
        return len(ctx.captured_queries)

    retention(enabled=False)
    off = count()
    retention(enabled=True)
    assert count() <= off + 1
