"""Push actions and unread notification counts in /sync: computed for every local member but the
sender when an event is persisted, reset by read receipts (m.read or m.read.private, the most recent
one), per thread with threaded receipts and `unread_thread_notifications`, and by sending."""
from __future__ import annotations

import pytest

from tests.api.rooms.helpers import create_room, send
from tests.api.sync.helpers import sync

pytestmark = pytest.mark.django_db(transaction=True)

API = "/_matrix/client/v3"


def msg(client, room_id, text="hello", **content):
    resp = send(client, room_id, {"msgtype": "m.text", "body": text, **content})
    assert resp.status_code == 200, resp.json_body
    return resp.json_body["event_id"]


def counts(body, room_id):
    entry = body["rooms"]["join"].get(room_id)
    return None if entry is None else entry["unread_notifications"]


def c(n, h=0):
    return {"notification_count": n, "highlight_count": h}


@pytest.fixture
def group(alice, bob, mx):
    """A room of three: alice, bob and carol (so the one-to-one rules do not apply)."""
    mx.register("carol")
    room_id = create_room(alice, preset="public_chat")
    for client in (bob, mx):
        assert client.post(f"{API}/join/{room_id}").status_code == 200
    return room_id


def test_messages_count_for_others_not_the_sender(alice, bob, group):
    since = sync(bob)["next_batch"]
    msg(alice, group)
    msg(alice, group)
    body = sync(bob, since, timeout=5000)
    assert counts(body, group) == c(2)
    assert counts(sync(alice), group) == c(0)


def test_mention_highlights_and_notice_does_not_notify(alice, bob, group):
    msg(alice, group, text="hey bob", **{"m.mentions": {"user_ids": [bob.user_id]}})
    msg(alice, group, msgtype="m.notice")
    assert counts(sync(bob), group) == c(1, 1)


def test_room_mention_needs_power(alice, bob, mx, group):
    msg(bob, group, **{"m.mentions": {"room": True}})      # bob has power 0 < 50: plain message
    msg(alice, group, **{"m.mentions": {"room": True}})    # alice, the creator, may
    assert counts(sync(mx), group) == c(2, 1)


def test_read_receipt_resets_counts_and_room_appears(alice, bob, group):
    e1 = msg(alice, group)
    msg(alice, group)
    e3 = msg(alice, group)
    first = sync(bob)
    assert counts(first, group) == c(3)
    assert bob.post(f"{API}/rooms/{group}/receipt/m.read/{e1}", {}).status_code == 200
    after = sync(bob, first["next_batch"], timeout=5000)
    assert counts(after, group) == c(2)
    assert bob.post(f"{API}/rooms/{group}/receipt/m.read.private/{e3}", {}).status_code == 200
    after2 = sync(bob, after["next_batch"], timeout=5000)
    assert counts(after2, group) == c(0)
    # A public receipt behind the private one does not rewind the counts.
    assert bob.post(f"{API}/rooms/{group}/receipt/m.read/{e1}", {}).status_code == 200
    assert counts(sync(bob), group) == c(0)


def test_counts_in_the_same_sync_as_the_event(alice, bob, group):
    since = sync(bob)["next_batch"]
    ev = msg(alice, group)
    body = sync(bob, since, timeout=5000)
    assert [e["event_id"] for e in body["rooms"]["join"][group]["timeline"]["events"]] == [ev]
    assert counts(body, group) == c(1)


def test_sending_marks_earlier_events_read(alice, bob, group):
    msg(alice, group)
    msg(alice, group)
    msg(bob, group)
    assert counts(sync(bob), group) == c(0)
    msg(alice, group)
    assert counts(sync(bob), group) == c(1)


def test_one_to_one_rules(alice, bob):
    room = create_room(alice, preset="trusted_private_chat", invite=[bob.user_id])
    assert bob.post(f"{API}/join/{room}").status_code == 200
    msg(alice, room)
    send(alice, room, {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "x"}, event_type="m.room.encrypted")
    assert counts(sync(bob), room) == c(2)


def test_user_rules_change_what_counts(alice, bob, group):
    R = f"{API}/pushrules/global"
    assert bob.put(f"{R}/room/{group}", {"actions": []}).status_code == 200
    msg(alice, group)
    assert counts(sync(bob), group) == c(0)
    assert bob.put(f"{R}/room/{group}/enabled", {"enabled": False}).status_code == 200
    msg(alice, group)
    assert counts(sync(bob), group) == c(1)
    assert bob.put(f"{R}/content/cake", {"pattern": "cake", "actions": ["notify", {"set_tweak": "highlight"}]}
                   ).status_code == 200
    msg(alice, group, text="Cake time!")
    assert counts(sync(bob), group) == c(2, 1)
    assert bob.put(f"{R}/override/.m.rule.master/enabled", {"enabled": True}).status_code == 200
    msg(alice, group, text="cake again")
    assert counts(sync(bob), group) == c(2, 1)


def test_display_name_condition(alice, bob, group):
    R = f"{API}/pushrules/global"
    bob.put(f"{API}/rooms/{group}/state/m.room.member/{bob.user_id}", {"membership": "join", "displayname": "Bobby"})
    assert bob.put(f"{R}/override/name", {"conditions": [{"kind": "contains_display_name"}],
                                          "actions": ["notify", {"set_tweak": "highlight"}]}).status_code == 200
    msg(alice, group, text="hi Bobby!")
    msg(alice, group, text="hi Bobbyyy")
    assert counts(sync(bob), group) == c(2, 1)


def test_invite_notifies_the_invitee(alice, bob):
    room = create_room(alice)
    assert alice.post(f"{API}/rooms/{room}/invite", {"user_id": bob.user_id}).status_code == 200
    notes = bob.get(f"{API}/notifications").json_body["notifications"]
    assert [n["event"]["type"] for n in notes] == ["m.room.member"]
    assert notes[0]["room_id"] == room


def test_thread_counts(alice, bob, group):
    root = msg(alice, group)
    t1 = msg(alice, group, **{"m.relates_to": {"rel_type": "m.thread", "event_id": root}})
    msg(alice, group, **{"m.relates_to": {"rel_type": "m.thread", "event_id": root}})
    msg(alice, group, **{"m.mentions": {"user_ids": [bob.user_id]}})
    flt = {"room": {"timeline": {"unread_thread_notifications": True}}}
    body = sync(bob, filter=flt)
    entry = body["rooms"]["join"][group]
    assert entry["unread_notifications"] == c(2, 1)                       # the main timeline only
    assert entry["unread_thread_notifications"] == {root: c(2)}
    assert counts(sync(bob), group) == c(4, 1)                            # no filter: the whole room
    # A threaded receipt in the thread clears what it covers of that thread only.
    assert bob.post(f"{API}/rooms/{group}/receipt/m.read/{t1}", {"thread_id": root}).status_code == 200
    entry = sync(bob, body["next_batch"], filter=flt, timeout=5000)["rooms"]["join"][group]
    assert entry["unread_notifications"] == c(2, 1)
    assert entry["unread_thread_notifications"] == {root: c(1)}
    # A main-timeline receipt on the root clears the main timeline up to it.
    assert bob.post(f"{API}/rooms/{group}/receipt/m.read/{root}", {"thread_id": "main"}).status_code == 200
    entry = sync(bob, filter=flt)["rooms"]["join"][group]
    assert entry["unread_notifications"] == c(1, 1)
    assert entry["unread_thread_notifications"] == {root: c(1)}
    # An unthreaded receipt at the latest event clears everything.
    last = msg(alice, group)
    assert bob.post(f"{API}/rooms/{group}/receipt/m.read/{last}", {}).status_code == 200
    entry = sync(bob, filter=flt)["rooms"]["join"][group]
    assert entry["unread_notifications"] == c(0)
    assert entry["unread_thread_notifications"] == {}


def test_ignored_users_never_notify(alice, bob, mx, group):
    resp = bob.put(f"{API}/user/{bob.user_id}/account_data/m.ignored_user_list",
                   {"ignored_users": {alice.user_id: {}}})
    assert resp.status_code == 200, resp.json_body
    msg(alice, group, **{"m.mentions": {"user_ids": [bob.user_id]}})
    msg(mx, group)
    assert counts(sync(bob), group) == c(1)


def test_room_shown_only_for_typing_keeps_its_counts(alice, bob, group):
    msg(alice, group)
    msg(alice, group)
    since = sync(bob)["next_batch"]
    resp = alice.put(f"{API}/rooms/{group}/typing/{alice.user_id}", {"typing": True, "timeout": 30000})
    assert resp.status_code == 200, resp.json_body
    body = sync(bob, since, timeout=5000)
    entry = body["rooms"]["join"][group]
    assert [e["type"] for e in entry["ephemeral"]["events"]] == ["m.typing"]
    assert entry["unread_notifications"] == c(2)
