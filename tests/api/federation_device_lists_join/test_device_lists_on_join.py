"""A server that starts sharing a room with local users is sent their device lists (server-server API,
"Device Management": `m.device_list_update` EDUs "when that user joins a room which contains servers which
are not already receiving updates for that user's device list"): when one of its users joins a room of ours,
or one of ours joins a room it is in. One EDU per current device, with its keys and name, chained by
`stream_id` / `prev_id` from an empty `prev_id` (a sequence that server never had). Nothing for servers
already receiving the user's updates, for profile changes, nor while sending is off; a server that left
every shared room hears of no further change."""
from __future__ import annotations

import pytest

from apps.e2ee import federation_updates
from apps.federation_sender.models import OutboundEdu
from apps.rooms import stores as room_stores
from apps.rooms.auth_rules import auth_types_for_event
from apps.rooms.events import Event
from apps.rooms.persister import PersistedEvent
from apps.rooms.room_versions import get_room_version
from tests.api.e2ee.helpers import API, login, signed_device_keys
from tests.api.federation.remote import q, state_after_join
from tests.api.federation_outbound.test_remote_join import HostedRoom
from tests.api.rooms.helpers import create_room, send

pytestmark = pytest.mark.django_db(transaction=True)

FED = "/_matrix/federation"


def upload_keys(client) -> dict:
    keys, _ = signed_device_keys(client)
    assert client.post(f"{API}/keys/upload", {"device_keys": keys}).status_code == 200
    return keys


def join(client, room_id: str) -> None:
    resp = client.post(f"{API}/join/{room_id}", {})
    assert resp.status_code == 200, resp.json_body


def leave(client, room_id: str) -> None:
    resp = client.post(f"{API}/rooms/{room_id}/leave", {})
    assert resp.status_code == 200, resp.json_body


def remote_leave(remote, room_id: str, user_id: str) -> None:
    made = remote.fake.make_membership("make_leave", room_id, user_id)
    assert made.status_code == 200, made.json_body
    event = remote.fake.sign_template(made.json_body["event"], made.json_body["room_version"])
    resp = remote.fake.put(f"{FED}/v2/send_leave/{q(room_id)}/{q(event.event_id)}", event.get_pdu_json())
    assert resp.status_code == 200, resp.json_body


def remote_rename(remote, room_id: str, user_id: str, after: Event, send_join_body: dict, name: str) -> Event:
    """`user_id` (joined) sets a display name in the room: a join after their join, sent in a transaction."""
    state = state_after_join(send_join_body, after)
    content = {"membership": "join", "displayname": name}
    probe = Event({"type": "m.room.member", "room_id": room_id, "sender": user_id, "state_key": user_id,
                   "content": content}, get_room_version("12"))
    auth = [state[k] for k in auth_types_for_event(probe) if k in state]
    event = remote.fake.event(room_id, user_id, "m.room.member", content, prev=[after.event_id], auth=auth,
                              depth=after.depth + 1, state_key=user_id)
    resp = remote.fake.send_transaction([event])
    assert resp.status_code == 200 and resp.json_body["pdus"] == {event.event_id: {}}, resp.json_body
    return event


def test_a_user_of_a_new_server_joining_brings_it_the_device_lists_of_the_room(alice, bob, client_factory,
                                                                               remote, sending):
    phone = login(client_factory, alice)
    laptop_keys, phone_keys = upload_keys(alice), upload_keys(phone)
    assert phone.put(f"{API}/devices/{phone.device_id}", {"display_name": "phone"}).status_code == 200
    room_id = create_room(alice, preset="public_chat")
    join(bob, room_id)
    assert remote.transactions() == []  # no server shares a room with them yet

    remote.fake.join(room_id, remote.user("carol"))
    sent = remote.updates_of(alice.user_id)
    assert {e["device_id"]: e["keys"] for e in sent} == {alice.device_id: laptop_keys, phone.device_id: phone_keys}
    assert all(e["deleted"] is False for e in sent)
    assert {e["device_id"]: e.get("device_display_name") for e in sent}[phone.device_id] == "phone"
    # A sequence of its own for that server: from an empty prev_id, each naming the one before.
    ids = [e["stream_id"] for e in sent]
    assert ids == sorted(ids) and len(set(ids)) == 2
    assert [e["prev_id"] for e in sent] == [[], [ids[0]]]
    # It ends where the snapshot (what a server resyncs from) does.
    devices = remote.fake.get(f"{FED}/v1/user/devices/{q(alice.user_id)}").json_body
    assert devices["stream_id"] == ids[-1]
    # bob, the other local member, too: one device, no keys uploaded.
    [bobs] = remote.updates_of(bob.user_id)
    assert bobs["device_id"] == bob.device_id and bobs["prev_id"] == [] and "keys" not in bobs
    assert not OutboundEdu.objects.exists()

    # alice's next change continues the chain the server now has.
    tablet = login(client_factory, alice)
    last = remote.updates_of(alice.user_id)[-1]
    assert last["device_id"] == tablet.device_id and last["prev_id"] == [ids[-1]]


def test_only_local_members_new_to_the_server_are_sent(alice, bob, remote, sending):
    bobs_room = create_room(bob, preset="public_chat")
    remote.fake.join(bobs_room, remote.user("dan"))
    assert [e["user_id"] for e in remote.edus()] == [bob.user_id]

    room_id = create_room(alice, preset="public_chat")
    join(bob, room_id)
    assert len(remote.edus()) == 1  # a room of local users only: nobody to tell
    remote.fake.join(room_id, remote.user("carol"))
    # The server already hears of bob's devices (dan shares a room with him): alice's only.
    new = remote.edus()[1:]
    assert new and {e["user_id"] for e in new} == {alice.user_id}


def test_a_server_already_receiving_the_updates_gets_nothing_more(alice, bob, remote, sending):
    room_id = create_room(alice, preset="public_chat")
    carol = remote.user("carol")
    carol_join, body = remote.fake.join(room_id, carol)
    assert len(remote.edus()) == 1
    # Profile changes (a join after a join) of the server's only user, and of alice.
    remote_rename(remote, room_id, carol, carol_join, body, "Carol")
    members = alice.get(f"{API}/rooms/{room_id}/joined_members").json_body["joined"]
    assert members[carol].get("display_name") == "Carol"
    assert alice.put(f"{API}/profile/{alice.user_id}/displayname", {"displayname": "Alice"}).status_code == 200
    members = alice.get(f"{API}/rooms/{room_id}/joined_members").json_body["joined"]
    assert members[alice.user_id].get("display_name") == "Alice"
    assert len(remote.edus()) == 1
    # A second user of that server.
    remote.fake.join(room_id, remote.user("dan"))
    # Another room of alice's, joined by the server's user: alice shares a room with it already.
    other = create_room(alice, preset="public_chat")
    remote.fake.join(other, remote.user("erin"))
    assert len(remote.edus()) == 1
    # bob joining is new to the server, and only bob.
    join(bob, room_id)
    assert [e["user_id"] for e in remote.edus()[1:]] == [bob.user_id]
    # ... once: his joining another room it is in sends nothing.
    join(bob, other)
    assert len(remote.edus()) == 2
    assert not OutboundEdu.objects.exists()


def test_a_local_user_joining_a_room_of_another_server(alice, client_factory, remote, sending):
    keys = upload_keys(alice)
    login(client_factory, alice)
    hosted = HostedRoom(remote.server, remote.fake)
    join(alice, hosted.room_id)
    assert len(hosted.joins) == 1
    sent = remote.updates_of(alice.user_id)
    assert len(sent) == 2 and sent[0]["prev_id"] == [] and sent[1]["prev_id"] == [sent[0]["stream_id"]]
    assert {e["device_id"]: e.get("keys") for e in sent}[alice.device_id] == keys
    assert not OutboundEdu.objects.exists()


def test_a_server_that_left_hears_no_more_and_joining_again_sends_the_list_again(alice, bob, client_factory,
                                                                                 remote, sending):
    room_id = create_room(alice, preset="public_chat")
    join(bob, room_id)
    carol = remote.user("carol")
    remote.fake.join(room_id, carol)
    assert len(remote.edus()) == 2  # alice's device, bob's

    # bob leaves: his devices are no longer the server's business.
    leave(bob, room_id)
    login(client_factory, bob)
    assert len(remote.edus()) == 2
    # carol, the server's only user, leaves: alice's changes stop too.
    remote_leave(remote, room_id, carol)
    login(client_factory, alice)
    assert len(remote.edus()) == 2
    assert not OutboundEdu.objects.exists()

    # Back in the room, the server is sent alice's list as it is now (two devices), a new sequence.
    remote.fake.join(room_id, carol)
    again = remote.edus()[2:]
    assert [e["user_id"] for e in again] == [alice.user_id, alice.user_id]
    assert again[0]["prev_id"] == [] and again[1]["prev_id"] == [again[0]["stream_id"]]


def test_nothing_is_queued_while_sending_is_off(alice, bob, remote):
    upload_keys(alice)
    room_id = create_room(alice, preset="public_chat")
    remote.fake.join(room_id, remote.user("carol"))
    join(bob, room_id)
    assert not OutboundEdu.objects.exists() and remote.transactions() == []


def test_the_hook_costs_nothing_for_other_events_and_one_query_for_a_local_room(
        alice, bob, sending, django_assert_num_queries):
    room_id = create_room(alice, preset="public_chat")
    message_id = send(alice, room_id).json_body["event_id"]
    join(bob, room_id)
    state = alice.get(f"{API}/rooms/{room_id}/state").json_body
    [join_id] = [e["event_id"] for e in state if e["type"] == "m.room.member" and e["state_key"] == bob.user_id]
    events = room_stores.get_events([message_id, join_id])
    message, bobs_join = events[message_id], events[join_id]
    with django_assert_num_queries(0):
        federation_updates.queue_for_new_servers(PersistedEvent(message, message.internal.stream_ordering))
    # A join to a room of this server's users only: which servers are in it, and no more.
    with django_assert_num_queries(1):
        federation_updates.queue_for_new_servers(PersistedEvent(bobs_join, bobs_join.internal.stream_ordering))
    assert not OutboundEdu.objects.exists()
