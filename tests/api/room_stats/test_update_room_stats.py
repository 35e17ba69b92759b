"""`background.update_room_stats`: per-room counts and descriptive fields, per-user joined rooms, kept from
the `events` stream by a periodic task from its durable position (rooms never computed are computed in
full), honouring `stats.enabled`; the operator's console lists them."""
from __future__ import annotations

import re

import pytest

from apps.room_stats import updater
from apps.room_stats.models import RoomStats, StatsPosition, UserStats
from apps.room_stats.stores import descriptive_fields
from tests.api.rooms.helpers import create_room, send
from tests.conftest import MatrixClient
from workers.background import update_room_stats

pytestmark = pytest.mark.django_db(transaction=True)

API = "/_matrix/client/v3"
MEGOLM = "m.megolm.v1.aes-sha2"


def user(localpart: str) -> MatrixClient:
    c = MatrixClient()
    c.register(localpart)
    return c


def ok(resp):
    assert resp.status_code == 200, resp.json_body
    return resp.json_body


def run() -> dict:
    result = update_room_stats.delay().get()
    assert "skipped" not in result, result
    return result


def stats(room_id: str) -> RoomStats:
    return RoomStats.objects.get(room_id=room_id)


def test_counts_and_state_after_create_join_invite_leave_ban_and_renaming(alice, bob):
    carol, dave, erin = user("carol"), user("dave"), user("erin")
    room_id = create_room(alice, preset="public_chat", name="Lobby", topic="Say hello", room_alias_name="lobby",
                          initial_state=[{"type": "m.room.encryption", "state_key": "",
                                          "content": {"algorithm": MEGOLM}}])
    run()
    s = stats(room_id)
    assert (s.joined_members, s.invited_members, s.left_members, s.banned_members) == (1, 0, 0, 0)
    assert s.local_users_in_room == 1
    assert (s.name, s.canonical_alias, s.topic, s.encryption) == ("Lobby", "#lobby:test.local", "Say hello", MEGOLM)
    assert (s.join_rules, s.history_visibility, s.creator, s.is_federatable) == \
        ("public", "shared", alice.user_id, True)
    assert s.room_version and s.room_type is None and s.avatar is None
    # Whatever the preset wrote, the count is the size of the current state.
    from apps.rooms.models import CurrentState
    assert s.current_state_events == CurrentState.objects.filter(room_id=room_id).count()
    state_before = s.current_state_events

    for c in (bob, dave, erin):
        ok(c.post(f"{API}/rooms/{room_id}/join"))
    ok(alice.post(f"{API}/rooms/{room_id}/invite", {"user_id": carol.user_id}))
    ok(dave.post(f"{API}/rooms/{room_id}/leave"))
    ok(alice.post(f"{API}/rooms/{room_id}/ban", {"user_id": erin.user_id, "reason": "spam"}))
    ok(alice.put(f"{API}/rooms/{room_id}/state/m.room.name/", {"name": "Main hall"}))
    ok(alice.put(f"{API}/rooms/{room_id}/state/m.room.avatar/", {"url": "mxc://test.local/abc"}))
    send(alice, room_id)
    run()
    s = stats(room_id)
    assert (s.joined_members, s.invited_members, s.left_members, s.banned_members) == (2, 1, 1, 1)
    assert s.local_users_in_room == 2
    assert (s.name, s.avatar) == ("Main hall", "mxc://test.local/abc")
    # Four members and an avatar joined the state; the name replaced the old one.
    assert s.current_state_events == state_before + 5
    assert UserStats.objects.get(user_id=alice.user_id).joined_rooms == 1
    assert UserStats.objects.get(user_id=bob.user_id).joined_rooms == 1
    for gone in (carol, dave, erin):
        assert UserStats.objects.get(user_id=gone.user_id).joined_rooms == 0


def test_remote_members_count_as_members_not_as_local_users(alice, bob):
    from tests.api.federation.remote import FakeRemote

    room_id = create_room(alice, preset="public_chat")
    ok(bob.post(f"{API}/rooms/{room_id}/join"))
    remote = FakeRemote("remote.test")
    remote.join(room_id, remote.user("zed"))
    run()
    s = stats(room_id)
    assert (s.joined_members, s.local_users_in_room) == (3, 2)
    # Only local users have user statistics.
    assert not UserStats.objects.filter(user_id=remote.user("zed")).exists()


def test_room_type_and_federation_flag_of_the_create_event(alice):
    space = create_room(alice, creation_content={"type": "m.space", "m.federate": False})
    run()
    s = stats(space)
    assert (s.room_type, s.is_federatable) == ("m.space", False)


def test_incremental_run_processes_only_new_events(alice, bob):
    quiet = create_room(alice, name="Quiet")
    busy = create_room(alice, preset="public_chat", name="Busy")
    run()
    position = StatsPosition.objects.get(stream="events").stream_id
    quiet_row = stats(quiet)
    assert quiet_row.completed_stream_id == position

    ok(bob.post(f"{API}/rooms/{busy}/join"))
    send(bob, busy)
    send(alice, busy)
    result = run()
    # Three events, one room, one local user's membership: the quiet room's row was left alone.
    assert (result["events"], result["rooms"], result["users"]) == (3, 1, 1)
    assert result["rooms_computed_in_full"] == 0
    assert stats(quiet).completed_stream_id == position and stats(quiet).updated_ts == quiet_row.updated_ts
    assert stats(busy).joined_members == 2 and stats(busy).completed_stream_id == result["position"] > position
    assert UserStats.objects.get(user_id=bob.user_id).joined_rooms == 1
    # Nothing new: nothing processed.
    again = run()
    assert (again["events"], again["rooms"], again["position"]) == (0, 0, result["position"])


def test_a_room_without_a_position_is_computed_in_full(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    ok(bob.post(f"{API}/rooms/{room_id}/join"))
    run()
    # The operator clears the room's row (or statistics were enabled after the room existed).
    RoomStats.objects.filter(room_id=room_id).delete()
    UserStats.objects.filter(user_id=bob.user_id).delete()
    result = run()
    assert result["events"] == 0
    assert (result["rooms_computed_in_full"], result["users_computed_in_full"]) == (1, 1)
    assert stats(room_id).joined_members == 2
    assert UserStats.objects.get(user_id=bob.user_id).joined_rooms == 1


def test_a_new_position_starts_at_the_present_and_existing_rooms_are_computed_in_full(alice):
    rooms = [create_room(alice, name=f"Room {i}") for i in range(3)]
    StatsPosition.objects.all().delete()
    RoomStats.objects.all().delete()
    result = run()
    assert result["events"] == 0 and result["rooms_computed_in_full"] == 3
    assert sorted(RoomStats.objects.values_list("name", flat=True)) == ["Room 0", "Room 1", "Room 2"]
    assert UserStats.objects.get(user_id=alice.user_id).joined_rooms == len(rooms)


def test_disabled_statistics_do_nothing(alice, settings):
    settings.HS = settings.HS.replace(stats_enabled=False)
    room_id = create_room(alice, name="Unseen")
    assert update_room_stats.delay().get() == {"skipped": "stats.enabled is false"}
    assert not RoomStats.objects.exists() and not UserStats.objects.exists()
    assert not StatsPosition.objects.exists()
    # Enabled again: the room is computed.
    settings.HS = settings.HS.replace(stats_enabled=True)
    run()
    assert stats(room_id).name == "Unseen"


def test_a_batch_costs_the_same_queries_for_one_room_or_many(alice, django_assert_max_num_queries, monkeypatch):
    """A batch of events reads and writes all the rooms it touches with grouped queries; a run that
    handles several batches costs a fixed number of queries per batch."""
    run()
    one = create_room(alice)
    send(alice, one)
    with django_assert_max_num_queries(RUN_QUERIES):
        assert run()["rooms"] == 1
    for i in range(6):
        r = create_room(alice, preset="public_chat", name=f"R{i}")
        send(alice, r)
    with django_assert_max_num_queries(RUN_QUERIES):
        result = run()
    assert result["rooms"] == 6 and result["batches"] == 1
    # Smaller batches: the same events in several batches, each a fixed cost.
    for i in range(4):
        send(alice, one)
    monkeypatch.setattr(updater, "EVENTS_PER_BATCH", 2)
    with django_assert_max_num_queries(RUN_QUERIES + 2 * BATCH_QUERIES):
        result = run()
    assert result["batches"] == 2 and result["events"] == 4


# A run: the persisted-up-to position, the position row, one batch, the full-computation look-ups.
RUN_QUERIES = 19
# One more batch: lock the position, read events, four reads and an upsert of rooms, two for users, move.
BATCH_QUERIES = 12


def test_descriptive_fields_ignore_values_of_the_wrong_type():
    assert descriptive_fields("m.room.name", {"name": 5}) == {"name": None}
    assert descriptive_fields("m.room.encryption", {"algorithm": MEGOLM}) == {"encryption": MEGOLM}
    assert descriptive_fields("m.room.create", {}) == {"room_type": None, "is_federatable": True}
    assert descriptive_fields("m.room.create", {"type": ["x"], "m.federate": "no"}) == \
        {"room_type": None, "is_federatable": True}


def result_rows(html: str) -> list[str]:
    """The rows of the console's result table, each as its text."""
    table = html[html.index('id="result_list"'):]
    table = table[:table.index("</table>")]
    return [re.sub(r"<[^>]+>", " ", row) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)[1:]]


def test_console_lists_statistics_sorted_and_read_only(alice, bob):
    from django.test import Client

    from apps.accounts.models import User

    small = create_room(alice, name="Small room")
    big = create_room(alice, preset="public_chat", room_alias_name="big")
    ok(bob.post(f"{API}/rooms/{big}/join"))
    run()
    root = User.objects.create_user("root", "pw", admin=True)
    console = Client()
    console.force_login(root)

    def listed(query: str = "") -> list[str]:
        page = console.get(f"/admin/room_stats/roomstats/{query}")
        assert page.status_code == 200
        rows = result_rows(page.content.decode())
        return ["big" if big in r else "small" if small in r else r for r in rows]

    # Default order: most joined members first.
    assert listed() == ["big", "small"]
    rows = result_rows(console.get("/admin/room_stats/roomstats/").content.decode())
    assert "#big:test.local" in rows[0] and "Small room" in rows[1]  # the alias stands in for a name
    # `o` counts the columns from 0: 0 room, 1 name / alias, 2 joined, 3 local, 6 state events,
    # 7 encryption, 8 version.
    assert listed("?o=1") == ["big", "small"]  # "#big:test.local" < "Small room"
    assert listed("?o=-1") == ["small", "big"]
    assert listed("?o=2") == ["small", "big"] and listed("?o=-3") == ["big", "small"]
    state_sizes = {"big": stats(big).current_state_events, "small": stats(small).current_state_events}
    assert state_sizes["big"] != state_sizes["small"]
    assert listed("?o=6") == sorted(state_sizes, key=state_sizes.get)
    assert listed("?o=-6") == sorted(state_sizes, key=state_sizes.get, reverse=True)
    for column in (7, 8):
        assert sorted(listed(f"?o={column}")) == ["big", "small"]
    assert console.get("/admin/room_stats/roomstats/add/").status_code == 403
    detail = console.get(f"/admin/room_stats/roomstats/{big}/change/")
    assert detail.status_code == 200 and 'name="_save"' not in detail.content.decode()
    users = console.get("/admin/room_stats/userstats/").content.decode()
    assert alice.user_id in users and bob.user_id in users
