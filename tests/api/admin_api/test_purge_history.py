"""POST /_synapse/admin/v1/purge_history/{roomId}[/{eventId}] and GET .../purge_history_status/{purgeId}
(Synapse's admin API): a purge job removes a room's history before a point while the room keeps working
(send, join, sync, state, members), keeps local events unless asked, and reports its status."""
from __future__ import annotations

import pytest

from apps.jobs.handlers import start_job
from apps.jobs.kinds import PURGE_HISTORY
from apps.jobs.models import Job
from apps.rooms import stores as room_stores
from apps.rooms.models import EventRow
from apps.rooms.redactions import apply_redactions
from tests.api.admin_api.helpers import ADMIN, message_bodies, messages, purge, purge_status, say, stored
from tests.api.federation.remote import FakeRemote, state_after_join
from tests.api.rooms.helpers import API, create_room, send
from tests.api.sync.helpers import bodies, sync
from tests.conftest import assert_error

pytestmark = pytest.mark.django_db(transaction=True)


def started(resp) -> str:
    assert resp.status_code == 200, resp.json_body
    assert set(resp.json_body) == {"purge_id"} and isinstance(resp.json_body["purge_id"], str)
    return resp.json_body["purge_id"]


def test_purge_removes_history_and_the_room_keeps_working(root, alice, bob):
    room_id = create_room(alice, preset="public_chat", name="Old times", topic="then")
    old = [say(alice, room_id, f"old {i}") for i in range(5)]
    keep = say(alice, room_id, "the first kept")
    say(alice, room_id, "after it")

    purge_id = started(purge(root, room_id, {"delete_local_events": True}, event_id=keep))
    assert purge_status(root, purge_id).json_body == {"status": "complete"}

    # /messages starts at the purge point: the older messages, and the room's creation (state events
    # leave the timeline), are gone.
    chunk = messages(alice, room_id)
    assert [e["event_id"] for e in chunk][-1] == keep
    assert message_bodies(alice, room_id) == ["the first kept", "after it"]
    assert not any(stored(e) for e in old)
    # The state is whole: name, topic, members, power levels.
    state = {(e["type"], e["state_key"]): e for e in alice.get(f"{API}/rooms/{room_id}/state").json_body}
    assert state[("m.room.name", "")]["content"] == {"name": "Old times"}
    assert state[("m.room.topic", "")]["content"]["topic"] == "then"
    assert ("m.room.power_levels", "") in state and ("m.room.create", "") in state

    # The room works: a new member joins, everyone sends, sync shows it all.
    assert bob.post(f"{API}/rooms/{room_id}/join").status_code == 200
    say(bob, room_id, "hello after the purge")
    say(alice, room_id, "welcome")
    body = sync(bob)
    joined = body["rooms"]["join"][room_id]
    assert bodies(body, room_id)[-2:] == ["hello after the purge", "welcome"]
    names = [e for e in joined["state"]["events"] + joined["timeline"]["events"] if e["type"] == "m.room.name"]
    assert names and names[0]["content"] == {"name": "Old times"}
    members = alice.get(f"{API}/rooms/{room_id}/joined_members").json_body["joined"]
    assert set(members) == {alice.user_id, bob.user_id}
    assert message_bodies(bob, room_id)[-2:] == ["hello after the purge", "welcome"]


def test_local_events_are_kept_unless_asked(root, alice, db):
    remote = FakeRemote("remote.test")
    room_id = create_room(alice, preset="public_chat")
    join, body = remote.join(room_id, remote.user("bob"))
    state = state_after_join(body, join)
    prev = join
    remote_ids = []
    for i in range(3):
        prev = remote.message(room_id, remote.user("bob"), f"from afar {i}", after=prev, state=state)
        assert remote.send_transaction([prev]).status_code == 200
        remote_ids.append(prev.event_id)
    mine = say(alice, room_id, "from here")
    last = say(alice, room_id, "the last one")

    started(purge(root, room_id, {"purge_up_to_event_id": last}))
    assert not any(stored(e) for e in remote_ids)
    assert message_bodies(alice, room_id) == ["from here", "the last one"]
    # The remote member's join left the timeline but not the room.
    assert stored(join.event_id)
    assert join.event_id not in [e["event_id"] for e in messages(alice, room_id)]
    members = alice.get(f"{API}/rooms/{room_id}/joined_members").json_body["joined"]
    assert set(members) == {alice.user_id, remote.user("bob")}

    # Asked to, the local events go too (the point itself stays).
    started(purge(root, room_id, {"delete_local_events": True, "purge_up_to_event_id": last}))
    assert not stored(mine)
    assert message_bodies(alice, room_id) == ["the last one"]
    # The remote member can still talk in the room (after the events it received from us): its event is
    # authorised by the kept state.
    after = remote.message(room_id, remote.user("bob"), "still here", after=last, state=state)
    resp = remote.send_transaction([after])
    assert resp.status_code == 200 and resp.json_body == {"pdus": {after.event_id: {}}}, resp.json_body
    assert message_bodies(alice, room_id)[-1] == "still here"


def test_purge_up_to_a_time(root, alice):
    room_id = create_room(alice)
    first = say(alice, room_id, "one")
    second = say(alice, room_id, "two")
    third = say(alice, room_id, "three")
    # The last event received before the time stays, what came before it goes.
    EventRow.objects.filter(event_id=first).update(received_ts=1000)
    EventRow.objects.filter(event_id=second).update(received_ts=2000)
    EventRow.objects.filter(event_id=third).update(received_ts=3000)
    EventRow.objects.filter(room_id=room_id).exclude(event_id__in=[first, second, third]).update(received_ts=500)
    started(purge(root, room_id, {"delete_local_events": True, "purge_up_to_ts": 2500}))
    assert message_bodies(alice, room_id) == ["two", "three"]
    assert not stored(first)


def test_the_newest_event_and_the_room_survive_a_purge_of_everything(root, alice, bob):
    room_id = create_room(alice, preset="public_chat")
    say(alice, room_id, "a")
    say(alice, room_id, "b")
    started(purge(root, room_id, {"delete_local_events": True, "purge_up_to_ts": 2**53}))
    # Nothing before "b" is left in the timeline, but "b" is: the room's forward extremity.
    assert message_bodies(alice, room_id) == ["b"]
    assert [e["content"].get("body") for e in messages(alice, room_id)] == ["b"]
    assert bob.post(f"{API}/rooms/{room_id}/join").status_code == 200
    assert send(bob, room_id).status_code == 200
    assert message_bodies(alice, room_id) == ["b", "hello"]


def test_purged_events_leave_search_relations_and_notifications(root, alice, bob):
    room_id = create_room(alice, preset="public_chat")
    assert bob.post(f"{API}/rooms/{room_id}/join").status_code == 200
    root_msg = say(alice, room_id, "thread root about cheese")
    reply = send(bob, room_id, {"msgtype": "m.text", "body": "cheesy reply",
                                "m.relates_to": {"rel_type": "m.thread", "event_id": root_msg}}).json_body["event_id"]
    ping = say(alice, room_id, f"{bob.user_id} cheese ping")  # a highlight for bob
    point = say(alice, room_id, "kept")
    notified = {n["event"]["event_id"] for n in bob.get(f"{API}/notifications").json_body["notifications"]}
    assert {ping, point} <= notified

    started(purge(root, room_id, {"delete_local_events": True}, event_id=point))
    for event_id in (root_msg, reply, ping):
        assert not stored(event_id)
    found = bob.post(f"{API}/search", {"search_categories": {"room_events": {"search_term": "cheese"}}})
    assert found.status_code == 200, found.json_body
    assert found.json_body["search_categories"]["room_events"]["results"] == []
    threads = bob.get(f"/_matrix/client/v1/rooms/{room_id}/threads")
    assert threads.status_code == 200 and threads.json_body["chunk"] == []
    # Only the kept message still notifies.
    assert [n["event"]["event_id"] for n in bob.get(f"{API}/notifications").json_body["notifications"]] == [point]


def test_a_redaction_of_a_kept_event_is_kept(root, alice):
    room_id = create_room(alice, topic="secret plans")
    topic = alice.get(f"{API}/rooms/{room_id}/state/m.room.topic?format=event").json_body["event_id"]
    resp = alice.put(f"{API}/rooms/{room_id}/redact/{topic}/txn1", {"reason": "oops"})
    assert resp.status_code == 200, resp.json_body
    redaction = resp.json_body["event_id"]
    point = say(alice, room_id, "later")
    started(purge(root, room_id, {"delete_local_events": True}, event_id=point))
    # Both left the timeline; the topic (a state event) is kept, so is the redaction that applies to it,
    # and the topic is still served pruned.
    assert [e["event_id"] for e in messages(alice, room_id)] == [point]
    assert stored(redaction) and EventRow.objects.get(event_id=topic).redacted_by == redaction
    [served] = apply_redactions([room_stores.get_event(topic)])
    assert "topic" not in served.content and served.unsigned["redacted_because"].event_id == redaction


def test_status_of_unknown_and_failed_purges(root, alice):
    assert_error(purge_status(root, "12345"), 404, "M_NOT_FOUND")
    assert_error(purge_status(root, "not-a-purge"), 404, "M_NOT_FOUND")
    job = start_job(PURGE_HISTORY, {"room_id": "!gone:test.local", "before_stream_ordering": 10,
                                    "delete_local_events": False}, target="!gone:test.local")
    job.refresh_from_db()
    assert job.status == Job.FAILED
    assert purge_status(root, str(job.pk)).json_body == {"status": "failed", "error": "Unknown room"}
    # A job of another kind is no purge.
    resp = root.post(f"{ADMIN}/deactivate/{alice.user_id}", {})
    assert resp.status_code == 200
    other = Job.objects.filter(kind="deactivate_user").get()
    assert_error(purge_status(root, str(other.pk)), 404, "M_NOT_FOUND")


def test_only_server_admins_may_purge(root, alice):
    room_id = create_room(alice)
    point = say(alice, room_id, "x")
    assert_error(purge(alice, room_id, {"purge_up_to_event_id": point}), 403, "M_FORBIDDEN")
    assert_error(alice.get(f"{ADMIN}/purge_history_status/1"), 403, "M_FORBIDDEN")
    assert_error(root.post(f"{ADMIN}/purge_history/{room_id}", {"purge_up_to_event_id": point}, token=None),
                 401, "M_MISSING_TOKEN")
    assert_error(root.get(f"{ADMIN}/purge_history_status/1", token=None), 401, "M_MISSING_TOKEN")
    assert_error(root.post(f"{ADMIN}/purge_history/{room_id}", {"purge_up_to_event_id": point}, token="syt_bogus"),
                 401, "M_UNKNOWN_TOKEN")
    assert not Job.objects.exists()
    assert message_bodies(alice, room_id) == ["x"]


def test_bad_purge_requests(root, alice):
    room_id = create_room(alice)
    other_room = create_room(alice)
    point = say(alice, room_id, "x")
    elsewhere = say(alice, other_room, "y")
    assert_error(purge(root, "!unknown:test.local", {"purge_up_to_event_id": point}), 404, "M_NOT_FOUND")
    assert_error(purge(root, "not-a-room", {"purge_up_to_event_id": point}), 400, "M_INVALID_PARAM")
    assert_error(purge(root, room_id, {"purge_up_to_event_id": "$nope"}), 404, "M_NOT_FOUND")
    assert_error(purge(root, room_id, {}, event_id="$nope"), 404, "M_NOT_FOUND")
    assert_error(purge(root, room_id, {"purge_up_to_event_id": elsewhere}), 400, "M_INVALID_PARAM")
    assert_error(purge(root, room_id, {}), 400, "M_BAD_JSON")
    assert_error(purge(root, room_id, {"delete_local_events": True}), 400, "M_BAD_JSON")
    assert_error(purge(root, room_id, {"purge_up_to_ts": "yesterday"}), 400, "M_BAD_JSON")
    assert_error(purge(root, room_id, {"purge_up_to_ts": True}), 400, "M_BAD_JSON")
    assert_error(purge(root, room_id, {"purge_up_to_event_id": 12}), 400, "M_BAD_JSON")
    assert_error(purge(root, room_id, {"purge_up_to_event_id": point, "delete_local_events": "yes"}),
                 400, "M_BAD_JSON")
    assert_error(purge(root, room_id, {"purge_up_to_ts": 1}), 404, "M_NOT_FOUND")  # nothing before it
    raw = root.request("POST", f"{ADMIN}/purge_history/{room_id}", raw=b"{not json")
    assert_error(raw, 400, "M_NOT_JSON")
    assert not Job.objects.exists()
    assert message_bodies(alice, room_id) == ["x"]
