"""Outbound federation (server-server API, "Transactions"): local events and EDUs reach the servers in
the room as signed PUT /send transactions; a failing destination is retried with the same transaction
after a backoff, nothing lost or sent twice; 50 PDUs per transaction in stream order; one sender per
destination; `send_federation: false`; a destination heard from is retried at once."""
from __future__ import annotations

import dataclasses
import uuid

import pytest
from django.conf import settings

from apps.federation.transport_auth import parse_authorization
from apps.federation_sender import delivery, stores, wakeups
from apps.federation_sender.models import FederationDestination, OutboundEdu, OutboundPdu
from apps.rooms.events import Event
from apps.rooms.room_versions import get_room_version
from tests.api.federation.remote import FED, q
from tests.api.rooms.helpers import API, create_room, send
from workers import federation_sender as tasks

pytestmark = pytest.mark.django_db(transaction=True)


def say(client, room_id: str, text: str) -> str:
    resp = send(client, room_id, {"msgtype": "m.text", "body": text})
    assert resp.status_code == 200, resp.json_body
    return resp.json_body["event_id"]


def event_id_of(pdu: dict) -> str:
    return Event(pdu, get_room_version("12")).event_id


def test_a_local_message_reaches_the_remote_in_a_signed_transaction(alice, remote, shared_room):
    event_id = say(alice, shared_room, "hello remote")
    [(txn_id, body, headers)] = remote.transactions()
    assert body["origin"] == settings.HS.server_name and isinstance(body["origin_server_ts"], int)
    [pdu] = body["pdus"]
    assert event_id_of(pdu) == event_id
    assert pdu["content"]["body"] == "hello remote" and pdu["sender"] == alice.user_id
    assert pdu["room_id"] == shared_room and "unsigned" not in pdu
    assert settings.HS.server_name in pdu["signatures"]
    auth = parse_authorization(headers["authorization"])
    assert auth.origin == settings.HS.server_name and auth.destination == remote.name
    assert not OutboundPdu.objects.exists()
    # The remote's own join was not relayed back to it, and only the message went.
    assert len(remote.pdus()) == 1


def test_nothing_is_sent_to_a_room_without_remote_members(alice, remote):
    room_id = create_room(alice, preset="public_chat")
    say(alice, room_id, "just us")
    assert remote.transactions() == [] and not OutboundPdu.objects.exists()


def test_a_failing_destination_gets_the_same_transaction_after_the_backoff(alice, remote, shared_room):
    remote.answers.append((500, {"errcode": "M_UNKNOWN", "error": "down"}))
    first = say(alice, shared_room, "one")
    [(txn_id, body, _)] = remote.transactions()
    dest = FederationDestination.objects.get(destination=remote.name)
    assert dest.failures == 1 and dest.retry_at_ms > stores.now_ms() and dest.txn_id == txn_id
    # While backing off, a new event waits (no request) and is not folded into the pending transaction.
    second = say(alice, shared_room, "two")
    assert len(remote.transactions()) == 1
    assert tasks.send.apply((remote.name,)).get()["status"] == "backoff"
    # The backoff ends: the same txnId and body go again, then the next event in its own transaction.
    FederationDestination.objects.filter(pk=remote.name).update(retry_at_ms=stores.now_ms() - 1)
    assert tasks.send.apply((remote.name,)).get()["transactions"] == 2
    txns = remote.transactions()
    assert [t[0] for t in txns[:2]] == [txn_id, txn_id] and txns[1][1] == body and txns[2][0] != txn_id
    assert [event_id_of(p) for p in txns[1][1]["pdus"]] == [first]
    assert [event_id_of(p) for p in txns[2][1]["pdus"]] == [second]
    dest.refresh_from_db()
    assert dest.failures == 0 and dest.retry_at_ms is None and dest.txn_id is None
    assert not OutboundPdu.objects.exists()


def test_backoff_doubles_and_is_capped():
    assert [delivery.backoff_ms(n) for n in (1, 2, 3, 4)] == [1000, 2000, 4000, 8000]
    assert delivery.backoff_ms(40) == delivery.backoff_ms(1000) == delivery.MAX_BACKOFF_MS


def test_sixty_events_go_as_fifty_then_ten_in_stream_order(alice, remote, shared_room, monkeypatch):
    monkeypatch.setattr(wakeups, "wake", lambda destination: None)
    sent = [say(alice, shared_room, f"m{i}") for i in range(60)]
    assert OutboundPdu.objects.filter(destination=remote.name).count() == 60
    assert delivery.send_pending(remote.name).transactions == 2
    txns = remote.transactions()
    assert [len(t[1]["pdus"]) for t in txns] == [50, 10]
    assert [event_id_of(p) for p in remote.pdus()] == sent
    assert len({t[0] for t in txns}) == 2


def test_a_destination_leased_by_another_worker_is_not_sent_to(alice, remote, shared_room):
    assert stores.take_lease(remote.name, "elsewhere:1:other", 60_000)
    event_id = say(alice, shared_room, "wait for it")
    assert remote.transactions() == []
    assert delivery.send_pending(remote.name).status == "busy"
    stores.release_lease(remote.name, "elsewhere:1:other")
    assert delivery.send_pending(remote.name).transactions == 1
    assert [event_id_of(p) for p in remote.pdus()] == [event_id]


def test_send_federation_false_sends_and_queues_nothing(alice, remote, shared_room, settings):
    settings.HS = settings.HS.replace(workers=dataclasses.replace(settings.HS.workers, send_federation=False))
    say(alice, shared_room, "private")
    assert alice.put(f"{API}/rooms/{shared_room}/typing/{alice.user_id}",
                     {"typing": True, "timeout": 30000}).status_code == 200
    assert tasks.sweep.apply().get() == []
    assert delivery.send_pending(remote.name).status == "disabled"
    assert remote.transactions() == []
    assert not OutboundPdu.objects.exists() and not OutboundEdu.objects.exists()


def test_a_remote_user_joining_makes_its_server_a_destination(alice, remote):
    room_id = create_room(alice, preset="public_chat")
    say(alice, room_id, "before")
    remote.fake.join(room_id, remote.fake.user("bob"))
    after = say(alice, room_id, "after")
    assert [event_id_of(p) for p in remote.pdus()] == [after]


def test_kicking_a_remote_user_reaches_its_server(alice, remote, shared_room):
    bob = remote.fake.user("bob")
    resp = alice.post(f"{API}/rooms/{shared_room}/kick", {"user_id": bob})
    assert resp.status_code == 200, resp.json_body
    [pdu] = remote.pdus()
    assert pdu["type"] == "m.room.member" and pdu["state_key"] == bob
    assert pdu["content"]["membership"] == "leave"
    say(alice, shared_room, "gone now")
    assert len(remote.pdus()) == 1


def test_typing_and_receipts_are_sent_as_edus(alice, remote, shared_room):
    path = f"{API}/rooms/{shared_room}/typing/{alice.user_id}"
    assert alice.put(path, {"typing": True, "timeout": 30000}).status_code == 200
    assert alice.put(path, {"typing": False}).status_code == 200
    assert [e["content"] for e in remote.edus("m.typing")] == [
        {"room_id": shared_room, "user_id": alice.user_id, "typing": True},
        {"room_id": shared_room, "user_id": alice.user_id, "typing": False}]
    event_id = say(alice, shared_room, "read me")
    resp = alice.post(f"{API}/rooms/{shared_room}/receipt/m.read/{event_id}", {})
    assert resp.status_code == 200, resp.json_body
    resp = alice.post(f"{API}/rooms/{shared_room}/receipt/m.read.private/{event_id}", {})
    assert resp.status_code == 200, resp.json_body
    [receipt] = remote.edus("m.receipt")
    read = receipt["content"][shared_room]["m.read"][alice.user_id]
    assert read["event_ids"] == [event_id] and isinstance(read["data"]["ts"], int)
    assert "m.read.private" not in receipt["content"][shared_room]


def test_a_pending_typing_edu_is_replaced_by_the_newer_one(alice, remote, shared_room, monkeypatch):
    monkeypatch.setattr(wakeups, "wake", lambda destination: None)
    path = f"{API}/rooms/{shared_room}/typing/{alice.user_id}"
    assert alice.put(path, {"typing": True, "timeout": 30000}).status_code == 200
    assert alice.put(path, {"typing": False}).status_code == 200
    delivery.send_pending(remote.name)
    assert [e["content"]["typing"] for e in remote.edus("m.typing")] == [False]


def test_to_device_messages_for_remote_users_are_sent(alice, remote):
    bob = remote.fake.user("bob")
    txn = uuid.uuid4().hex
    body = {"messages": {bob: {"DEV": {"secret": 1}}}}
    assert alice.put(f"{API}/sendToDevice/org.example.ping/{txn}", body).status_code == 200
    assert alice.put(f"{API}/sendToDevice/org.example.ping/{txn}", body).status_code == 200  # a retry
    [edu] = remote.edus("m.direct_to_device")
    content = edu["content"]
    assert content["sender"] == alice.user_id and content["type"] == "org.example.ping"
    assert content["messages"] == {bob: {"DEV": {"secret": 1}}} and content["message_id"]


def test_a_destination_heard_from_is_retried_at_once(alice, remote, shared_room):
    remote.answers.append((502, {}))
    event_id = say(alice, shared_room, "are you there")
    assert FederationDestination.objects.get(pk=remote.name).failures == 1
    # The remote reaches us with an authenticated request: its backoff ends and the transaction goes.
    # (Its join, moments ago, was heard too: this process looks again only after an interval.)
    assert remote.name in wakeups._heard
    wakeups._heard.clear()
    resp = remote.fake.get(f"{FED}/v1/state_ids/{q(shared_room)}", query={"event_id": event_id})
    assert resp.status_code == 200, resp.json_body
    txns = remote.transactions()
    assert len(txns) == 2 and txns[0][0] == txns[1][0]
    assert FederationDestination.objects.get(pk=remote.name).failures == 0 and not OutboundPdu.objects.exists()


def test_presence_of_a_local_user_is_sent_to_servers_sharing_a_room(alice, remote, shared_room):
    resp = alice.put(f"{API}/presence/{alice.user_id}/status", {"presence": "online", "status_msg": "here"})
    assert resp.status_code == 200, resp.json_body
    pushes = [p for e in remote.edus("m.presence") for p in e["content"]["push"]]
    assert pushes and pushes[-1]["user_id"] == alice.user_id
    assert pushes[-1]["presence"] == "online" and pushes[-1]["status_msg"] == "here"
    assert isinstance(pushes[-1]["last_active_ago"], int) and "currently_active" in pushes[-1]


def test_the_sweep_sends_what_no_wakeup_announced(alice, remote, shared_room, monkeypatch):
    monkeypatch.setattr(wakeups, "wake", lambda destination: None)
    event_id = say(alice, shared_room, "lost wake-up")
    assert remote.transactions() == []
    monkeypatch.undo()
    monkeypatch.setattr(wakeups, "IN_PROCESS_THREAD", False)
    assert tasks.sweep.apply().get() == [remote.name]
    assert [event_id_of(p) for p in remote.pdus()] == [event_id]
    assert tasks.sweep.apply().get() == []


def test_a_transaction_left_by_a_killed_worker_is_resent_as_it_was(alice, remote, shared_room, monkeypatch):
    monkeypatch.setattr(wakeups, "wake", lambda destination: None)
    event_id = say(alice, shared_room, "in flight")
    # A worker recorded its transaction, then died before any answer (its lease has run out).
    assert stores.take_lease(remote.name, "dead:1:x", 60_000)
    txn_id, body, pdu_rows, edu_rows = delivery._new_transaction(remote.name)
    assert stores.update_state(remote.name, "dead:1:x", txn_id=txn_id, txn_body=body, txn_pdu_rows=pdu_rows,
                               txn_edu_rows=edu_rows, lease_until_ms=stores.now_ms() - 1)
    assert delivery.send_pending(remote.name).transactions == 1
    [(sent_id, sent_body, _)] = remote.transactions()
    assert sent_id == txn_id and sent_body == body
    assert [event_id_of(p) for p in sent_body["pdus"]] == [event_id] and not OutboundPdu.objects.exists()


def test_sending_costs_a_bounded_number_of_queries(alice, remote, shared_room, monkeypatch,
                                                    django_assert_max_num_queries):
    monkeypatch.setattr(wakeups, "wake", lambda destination: None)
    for i in range(60):
        say(alice, shared_room, f"m{i}")
    # About 14 per transaction, none per PDU.
    with django_assert_max_num_queries(32):
        assert delivery.send_pending(remote.name).transactions == 2


def test_events_of_other_servers_are_not_relayed(alice, remote):
    from tests.api.federation.remote import state_after_join

    room_id = create_room(alice, preset="public_chat")
    join, body = remote.fake.join(room_id, remote.fake.user("bob"))
    msg = remote.fake.message(room_id, remote.fake.user("bob"), "from afar", after=join,
                              state=state_after_join(body, join))
    resp = remote.fake.send_transaction([msg])
    assert resp.status_code == 200 and resp.json_body["pdus"] == {msg.event_id: {}}, resp.json_body
    assert remote.pdus() == [] and not OutboundPdu.objects.exists()
    mine = say(alice, room_id, "from here")
    assert [event_id_of(p) for p in remote.pdus()] == [mine]
