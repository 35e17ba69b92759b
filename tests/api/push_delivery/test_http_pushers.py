"""HTTP pushers on the `pusher` queue, against a real push gateway on loopback: what the gateway receives
(push gateway API), `format: event_id_only`, rejected pushkeys, a gateway that is down then back
(retried with backoff, each notification delivered once), a 4xx that cannot succeed, one sender per
pusher, and the sweep that finds work no message announced.
"""
from __future__ import annotations

import json

import pytest

from apps.push.models import Pusher
from apps.push_delivery import delivery, stores, wakeups
from apps.push_delivery.models import PusherDeliveryState
from tests.api.rooms.helpers import API, create_room, send
from tests.federation_support import LoopbackServer
from workers import pusher as pusher_tasks

pytestmark = pytest.mark.django_db(transaction=True)

NOTIFY = "/_matrix/push/v1/notify"


@pytest.fixture(autouse=True)
def _inline(monkeypatch):
    monkeypatch.setattr(wakeups, "IN_PROCESS_THREAD", False)


@pytest.fixture
def gateway():
    answers: list = []
    server = LoopbackServer(None)

    def notify(rec):
        status, body = answers.pop(0) if answers else (200, {"rejected": []})
        return status, {}, body
    server.routes[NOTIFY] = notify
    server.answers = answers
    yield server
    server.close()


def notifications(gw) -> list[dict]:
    return [json.loads(r.body)["notification"] for r in gw.requests if r.path == NOTIFY]


def set_pusher(client, gw, pushkey="key-1", **data):
    body = {"kind": "http", "app_id": "org.example.app", "pushkey": pushkey, "app_display_name": "Example",
            "device_display_name": "phone", "lang": "en",
            "data": {"url": f"http://127.0.0.1:{gw.port}{NOTIFY}", **data}}
    resp = client.post(f"{API}/pushers/set", body)
    assert resp.status_code == 200, resp.json_body
    return Pusher.objects.get(user_id=client.user_id, pushkey=pushkey)


def say(client, room_id: str, text: str):
    resp = send(client, room_id, {"msgtype": "m.text", "body": text})
    assert resp.status_code == 200, resp.json_body
    return resp


def room_with(alice, bob) -> str:
    room_id = create_room(alice, preset="public_chat", name="Cheese club")
    assert bob.post(f"{API}/rooms/{room_id}/join").status_code == 200
    return room_id


def test_a_message_reaches_the_gateway(alice, bob, gateway):
    room_id = room_with(alice, bob)
    set_pusher(bob, gateway)
    event_id = say(alice, room_id, "hello bob").json_body["event_id"]
    [n] = notifications(gateway)
    assert n["event_id"] == event_id and n["room_id"] == room_id
    assert n["type"] == "m.room.message" and n["sender"] == alice.user_id
    assert n["content"]["body"] == "hello bob" and n["room_name"] == "Cheese club"
    assert n["counts"] == {"unread": 1}
    assert n["prio"] in ("high", "low")
    [device] = n["devices"]
    assert device["app_id"] == "org.example.app" and device["pushkey"] == "key-1"
    assert "url" not in device["data"]
    assert Pusher.objects.get(pushkey="key-1").last_stream_ordering > 0
    # bob's own messages do not notify bob.
    say(bob, room_id, "me")
    assert len(notifications(gateway)) == 1


def test_event_id_only(alice, bob, gateway):
    room_id = room_with(alice, bob)
    set_pusher(bob, gateway, format="event_id_only")
    say(alice, room_id, "secret")
    [n] = notifications(gateway)
    assert "content" not in n and "sender" not in n and n["counts"]["unread"] == 1


def test_rejected_pushkeys_remove_the_pusher(alice, bob, gateway):
    room_id = room_with(alice, bob)
    set_pusher(bob, gateway)
    gateway.answers.append((200, {"rejected": ["key-1"]}))
    say(alice, room_id, "one")
    assert bob.get(f"{API}/pushers").json_body["pushers"] == []
    say(alice, room_id, "two")
    assert len(notifications(gateway)) == 1


def test_a_gateway_that_is_down_gets_every_notification_once_when_back(alice, bob, gateway):
    room_id = room_with(alice, bob)
    pusher = set_pusher(bob, gateway)
    gateway.answers.extend([(503, {"error": "down"})])
    first = say(alice, room_id, "while down").json_body["event_id"]
    state = PusherDeliveryState.objects.get(pusher_id=pusher.pk)
    assert state.failures == 1 and state.retry_at_ms is not None
    assert Pusher.objects.get(pk=pusher.pk).failing_since_ts is not None
    # More events while backing off are not tried (nor lost).
    second = say(alice, room_id, "still down").json_body["event_id"]
    assert len(notifications(gateway)) == 1
    PusherDeliveryState.objects.filter(pusher_id=pusher.pk).update(retry_at_ms=0)
    assert pusher_tasks.push.apply((pusher.pk,)).get()["status"] == "idle"
    delivered = [n["event_id"] for n in notifications(gateway)][1:]
    assert delivered == [first, second]
    assert PusherDeliveryState.objects.get(pusher_id=pusher.pk).failures == 0
    assert Pusher.objects.get(pk=pusher.pk).failing_since_ts is None


def test_a_refused_notification_is_dropped_not_retried(alice, bob, gateway):
    room_id = room_with(alice, bob)
    pusher = set_pusher(bob, gateway)
    gateway.answers.append((400, {"error": "bad"}))
    say(alice, room_id, "refused")
    say(alice, room_id, "fine")
    assert len(notifications(gateway)) == 2
    assert PusherDeliveryState.objects.get(pusher_id=pusher.pk).failures == 0


def test_one_sender_per_pusher_and_the_sweep(alice, bob, gateway):
    room_id = room_with(alice, bob)
    pusher = set_pusher(bob, gateway)
    # Another worker holds the lease: this one sends nothing.
    assert stores.take_lease(pusher.pk, "other-worker", 60_000)
    say(alice, room_id, "queued")
    assert notifications(gateway) == []
    assert delivery.deliver(pusher.pk).status == "busy"
    # Its worker died: the lease runs out, the sweep finds the work, it is sent once.
    PusherDeliveryState.objects.filter(pusher_id=pusher.pk).update(lease_until_ms=0)
    assert pusher_tasks.sweep.apply().get() == [pusher.pk]
    assert len(notifications(gateway)) == 1
    assert pusher_tasks.sweep.apply().get() == []
