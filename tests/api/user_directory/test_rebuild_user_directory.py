"""The user directory's tables (apps.user_directory_index): kept as events are persisted (remote users'
joins, join rules and history visibility), rebuilt on demand by `background.rebuild_user_directory` /
`manage.py rebuild_user_directory` (batched, idempotent, on the instance `update_user_directory_from_worker`
names), and read by POST /user_directory/search."""
from __future__ import annotations

import dataclasses
import io

import pytest
from django.core.management import call_command

from apps.rooms.auth_rules import auth_types_for_event
from apps.rooms.events import Event
from apps.rooms.room_versions import get_room_version
from apps.user_directory_index import index
from apps.user_directory_index.models import DirectoryEntry, DirectoryPublicRoom
from tests.api.federation.remote import FED, FakeRemote, q, state_after_join
from tests.api.rooms.helpers import create_room
from tests.api.sync.helpers import API
from tests.conftest import MatrixClient
from workers.background import rebuild_user_directory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def remote(db):
    return FakeRemote("remote.test")


def search(client, term) -> list[str]:
    resp = client.post(f"{API}/user_directory/search", {"search_term": term})
    assert resp.status_code == 200, resp.json_body
    return [r["user_id"] for r in resp.json_body["results"]]


def results(client, term) -> list[dict]:
    return client.post(f"{API}/user_directory/search", {"search_term": term}).json_body["results"]


def user(localpart: str, displayname: str | None = None) -> MatrixClient:
    c = MatrixClient()
    c.register(localpart)
    if displayname:
        assert c.put(f"{API}/profile/{c.user_id}/displayname", {"displayname": displayname}).status_code == 200
    return c


def remote_join(remote: FakeRemote, room_id: str, localpart: str, displayname: str) -> tuple[Event, dict]:
    """A remote user joins through make_join / send_join, with a display name in the join event."""
    user_id = remote.user(localpart)
    made = remote.make_membership("make_join", room_id, user_id)
    assert made.status_code == 200, made.json_body
    template = made.json_body["event"]
    template["content"] = {**template["content"], "displayname": displayname}
    event = remote.sign_template(template, made.json_body["room_version"])
    resp = remote.put(f"{FED}/v2/send_join/{q(room_id)}/{q(event.event_id)}", event.get_pdu_json())
    assert resp.status_code == 200, resp.json_body
    return event, resp.json_body


def remote_member_event(remote: FakeRemote, room_id: str, join: Event, state: dict, content: dict) -> Event:
    """The remote user's next member event (a new display name, a leave), after their join."""
    probe = Event({"type": "m.room.member", "room_id": room_id, "sender": join.sender, "state_key": join.sender,
                   "content": content}, get_room_version("12"))
    auth = [state[k] for k in auth_types_for_event(probe) if k in state]
    event = remote.event(room_id, join.sender, "m.room.member", content, prev=[join.event_id], auth=auth,
                         depth=join.depth + 1, state_key=join.sender)
    resp = remote.send_transaction([event])
    assert resp.status_code == 200 and resp.json_body["pdus"][event.event_id] == {}, resp.json_body
    return event


def test_remote_users_are_found_by_the_profile_of_their_join(alice, remote):
    room_id = create_room(alice, preset="public_chat")
    join, body = remote_join(remote, room_id, "zed", "Zed Remote")
    carol = user("carol")  # shares no room: finds zed through the public room
    assert search(carol, "zed remote") == [join.sender]
    assert results(alice, "remote")[0] == {"user_id": join.sender, "display_name": "Zed Remote"}
    # A new display name arrives over federation: the entry follows.
    remote_member_event(remote, room_id, join, state_after_join(body, join),
                        {"membership": "join", "displayname": "Zedekiah"})
    assert search(carol, "zedekiah") == [join.sender]
    assert search(carol, "remote") == [join.sender]  # the user ID still matches


def test_join_rules_and_history_visibility_open_and_close_a_room(alice):
    carol = user("carol", "Carol Danvers")
    erin = user("erin")
    room_id = create_room(carol, preset="private_chat")
    assert search(erin, "danvers") == []
    assert alice.put(f"{API}/rooms/{room_id}/state/m.room.join_rules/", {"join_rule": "public"}).status_code == 403
    assert carol.put(f"{API}/rooms/{room_id}/state/m.room.join_rules/", {"join_rule": "public"}).status_code == 200
    assert search(erin, "danvers") == [carol.user_id]
    assert list(DirectoryPublicRoom.objects.values_list("room_id", flat=True)) == [room_id]
    carol.put(f"{API}/rooms/{room_id}/state/m.room.join_rules/", {"join_rule": "invite"})
    assert search(erin, "danvers") == []
    carol.put(f"{API}/rooms/{room_id}/state/m.room.history_visibility/", {"history_visibility": "world_readable"})
    assert search(erin, "danvers") == [carol.user_id]
    carol.put(f"{API}/rooms/{room_id}/state/m.room.history_visibility/", {"history_visibility": "shared"})
    assert search(erin, "danvers") == [] and not DirectoryPublicRoom.objects.exists()


def test_rebuild_restores_a_wiped_directory(alice, remote):
    public = create_room(alice, preset="public_chat")
    carol = user("carol", "Carol Danvers")
    assert carol.post(f"{API}/rooms/{public}/join").status_code == 200
    join, _ = remote_join(remote, public, "zed", "Zed Remote")
    erin = user("erin")  # in no room: finds members of public rooms only
    assert search(erin, "danvers") == [carol.user_id] and search(erin, "zed") == [join.sender]

    DirectoryEntry.objects.all().delete()
    DirectoryPublicRoom.objects.all().delete()
    assert search(erin, "danvers") == [] and search(erin, "zed") == []
    assert search(alice, "zed") == []  # alice shares the room with zed, but his entry is gone

    result = rebuild_user_directory.delay().get()
    assert result == {"rooms": 1, "public_rooms": 1, "entries": 1, "removed": 0}
    assert search(erin, "danvers") == [carol.user_id]
    assert search(erin, "zed") == [join.sender] and search(alice, "zed") == [join.sender]
    assert results(erin, "zed")[0]["display_name"] == "Zed Remote"
    # Idempotent: again, the same tables.
    before = (list(DirectoryEntry.objects.values_list("user_id", "display_name", "avatar_url")),
              list(DirectoryPublicRoom.objects.values_list("room_id", flat=True)))
    assert rebuild_user_directory.delay().get() == result
    assert (list(DirectoryEntry.objects.values_list("user_id", "display_name", "avatar_url")),
            list(DirectoryPublicRoom.objects.values_list("room_id", flat=True))) == before


def test_rebuild_drops_users_joined_nowhere_and_rooms_no_longer_public(alice, remote):
    room_id = create_room(alice, preset="public_chat")
    join, body = remote_join(remote, room_id, "zed", "Zed Remote")
    remote_member_event(remote, room_id, join, state_after_join(body, join), {"membership": "leave"})
    assert search(alice, "zed") == []  # left: no longer visible, though the entry is still there
    assert DirectoryEntry.objects.filter(user_id=join.sender).exists()
    # A public room the incremental path missed (rows written before a state reset, say).
    private = create_room(alice, preset="private_chat")
    DirectoryPublicRoom.objects.create(room_id=private)
    out = rebuild_user_directory.delay().get()
    assert out["removed"] == 1 and out["public_rooms"] == 1
    assert not DirectoryEntry.objects.exists()
    assert list(DirectoryPublicRoom.objects.values_list("room_id", flat=True)) == [room_id]


def test_rebuild_runs_only_where_update_user_directory_from_worker_says(alice, settings):
    room_id = create_room(alice, preset="public_chat")
    DirectoryPublicRoom.objects.all().delete()
    workers = settings.HS.workers
    settings.HS = settings.HS.replace(workers=dataclasses.replace(workers, update_user_directory_from_worker="bg1"))
    assert rebuild_user_directory.delay().get() == {"skipped": "bg1"}
    assert not DirectoryPublicRoom.objects.exists()
    settings.HS = settings.HS.replace(workers=dataclasses.replace(workers, instance_name="bg1",
                                                                  update_user_directory_from_worker="bg1"))
    assert rebuild_user_directory.delay().get()["public_rooms"] == 1
    assert list(DirectoryPublicRoom.objects.values_list("room_id", flat=True)) == [room_id]


def test_management_command(alice):
    create_room(alice, preset="public_chat")
    DirectoryPublicRoom.objects.all().delete()
    out = io.StringIO()
    call_command("rebuild_user_directory", "--batch", "1", stdout=out)
    assert "1 rooms read, 1 public" in out.getvalue()
    assert DirectoryPublicRoom.objects.count() == 1
    with pytest.raises(Exception, match="--batch"):
        call_command("rebuild_user_directory", "--batch", "0")


def test_rebuild_queries_grow_with_batches_not_rows(alice, remote, django_assert_max_num_queries):
    """Each batch reads and writes its rows with a fixed number of queries."""
    rooms = [create_room(alice, preset="public_chat" if i % 2 else "private_chat") for i in range(6)]
    for i, room_id in enumerate(rooms[1::2]):  # the public ones
        remote_join(remote, room_id, f"r{i}", f"Remote {i}")
    # One batch of rooms, one of remote users, one of entries.
    with django_assert_max_num_queries(3 * BATCH_QUERIES + 3):
        out = index.rebuild(batch=100)
    assert out == {"rooms": 6, "public_rooms": 3, "entries": 3, "removed": 0}
    # Batches of two: three of rooms, two of users, two of entries, each as cheap.
    with django_assert_max_num_queries(7 * BATCH_QUERIES + 3):
        assert index.rebuild(batch=2) == out


# A batch: its page, the transaction, its reads and writes; plus at most one empty last page per table.
BATCH_QUERIES = 6
