"""Events pushed to a real application service (spec: application-service API, "Pushing events"): which
events, in what order, with what authorisation, and what happens while the service is down."""
from __future__ import annotations

import os
import re

import pytest

from apps.appservice import transactions
from apps.appservice.models import AppServiceState
from tests.api.appservice.support import configure, registration
from workers import appservice as tasks

pytestmark = pytest.mark.django_db(transaction=True)

API = "/_matrix/client/v3"
AS_TOKEN = "as-token-for-tests"


def create_room(client, **body) -> str:
    resp = client.post(f"{API}/createRoom", body or {"preset": "public_chat"})
    assert resp.status_code == 200, resp.json_body
    return resp.json_body["room_id"]


def say(client, room_id: str, text: str, query: str = "", token="default") -> str:
    resp = client.put(f"{API}/rooms/{room_id}/send/m.room.message/{text}{query}",
                      {"msgtype": "m.text", "body": text}, token=token)
    assert resp.status_code == 200, resp.json_body
    return resp.json_body["event_id"]


def bridge_user(mx, localpart: str) -> str:
    resp = mx.post(f"{API}/register", {"type": "m.login.application_service", "username": localpart,
                                       "inhibit_login": True}, token=AS_TOKEN)
    assert resp.status_code == 200, resp.json_body
    return resp.json_body["user_id"]


@pytest.fixture
def service(settings, tmp_path, fake_as):
    configure(settings, tmp_path, registration(fake_as))
    return fake_as


def test_events_of_interest_arrive_in_order_once(mx, alice, bob, service):
    quiet = create_room(alice)
    bob.post(f"{API}/join/{quiet}", {})
    say(alice, quiet, "not-for-the-bridge")
    assert service.transactions() == []

    ivy = bridge_user(mx, "_bridge_ivy")
    room = create_room(alice)
    invite = alice.post(f"{API}/rooms/{room}/invite", {"user_id": ivy})
    assert invite.status_code == 200
    joined = mx.post(f"{API}/join/{room}?user_id={ivy}", {}, token=AS_TOKEN)
    assert joined.status_code == 200
    m1 = say(alice, room, "m1")
    m2 = say(alice, room, "m2")
    from_bridge = say(mx, room, "m3", query=f"?user_id={ivy}", token=AS_TOKEN)
    say(alice, quiet, "still-not-for-the-bridge")

    txns = service.transactions()
    assert txns and all(t.method == "PUT" and t.authorization == f"Bearer {service.hs_token}" for t in txns)
    assert all(re.fullmatch(r"/_matrix/app/v1/transactions/[^/]+", t.path) for t in txns)
    events = service.acknowledged_events()
    ids = [e["event_id"] for e in events]
    assert len(ids) == len(set(ids)), "an event was delivered twice"
    # The invite (its state_key is a bridge user), then everything in the room the bridge user is in.
    member_events = [e for e in events if e["type"] == "m.room.member"]
    assert [(e["state_key"], e["content"]["membership"]) for e in member_events] == [(ivy, "invite"), (ivy, "join")]
    assert ids[-3:] == [m1, m2, from_bridge]
    assert all(e["room_id"] == room for e in events)
    assert events[-1]["sender"] == ivy and events[-1]["content"]["body"] == "m3"
    assert "unsigned" in events[-1] and "origin_server_ts" in events[-1]
    # Stream order: the transactions' ids increase and so do the events' positions within them.
    txn_ids = [int(t.path.rsplit("/", 1)[1]) for t in txns]
    assert txn_ids == sorted(txn_ids) and len(set(txn_ids)) == len(txn_ids)


def test_rooms_and_alias_namespaces(mx, alice, settings, tmp_path, service):
    by_id = create_room(alice)
    configure(settings, tmp_path, registration(service, users=[],
                                               aliases=[{"exclusive": False, "regex": "#_bridge_chat:.*"}],
                                               rooms=[{"exclusive": False, "regex": re.escape(by_id)}]))
    by_alias = create_room(alice)
    # A non-exclusive alias namespace: anyone may create such an alias, and its room interests the service.
    assert alice.put(f"{API}/directory/room/%23_bridge_chat:test.local", {"room_id": by_alias}).status_code == 200
    other = create_room(alice)
    a = say(alice, by_id, "by-id")
    b = say(alice, by_alias, "by-alias")
    say(alice, other, "neither")
    assert [e["event_id"] for e in service.acknowledged_events()] == [a, b]


def test_exclusive_alias_namespace_is_the_services(mx, alice, service):
    room = create_room(alice)
    resp = alice.put(f"{API}/directory/room/%23_bridge_mine:test.local", {"room_id": room})
    assert resp.status_code == 400 and resp.json_body["errcode"] == "M_EXCLUSIVE"
    ivy = bridge_user(mx, "_bridge_ivy")
    assert mx.post(f"{API}/join/{room}?user_id={ivy}", {}, token=AS_TOKEN).status_code == 200
    ok = mx.put(f"{API}/directory/room/%23_bridge_mine:test.local?user_id={ivy}", {"room_id": room}, token=AS_TOKEN)
    assert ok.status_code == 200, ok.json_body
    outside = mx.put(f"{API}/directory/room/%23elsewhere:test.local?user_id={ivy}", {"room_id": room},
                     token=AS_TOKEN)
    assert outside.status_code == 400 and outside.json_body["errcode"] == "M_EXCLUSIVE"
    created = alice.post(f"{API}/createRoom", {"room_alias_name": "_bridge_other"})
    assert created.status_code == 400 and created.json_body["errcode"] == "M_EXCLUSIVE"
    by_service = mx.post(f"{API}/createRoom?user_id={ivy}", {"room_alias_name": "_bridge_other"}, token=AS_TOKEN)
    assert by_service.status_code == 200, by_service.json_body


def _time_passes() -> None:
    AppServiceState.objects.update(retry_at_ms=0)


def test_downtime_retries_the_same_transaction_and_loses_nothing(mx, alice, service):
    ivy = bridge_user(mx, "_bridge_ivy")
    room = create_room(alice)
    assert mx.post(f"{API}/join/{room}?user_id={ivy}", {}, token=AS_TOKEN).status_code == 200
    before = len(service.acknowledged_events())

    service.status = 500
    m1 = say(alice, room, "while-erroring")
    [first_try] = [t for t in service.transactions() if t.answered == 500]
    state = AppServiceState.objects.get(appservice_id="bridge")
    assert state.failures == 1 and state.retry_at_ms is not None and state.txn_id is not None
    assert [e["event_id"] for e in first_try.body["events"]] == [m1]

    # Backing off: a new event does not jump the queue, nor is anything sent yet.
    attempts = len(service.transactions())
    m2 = say(alice, room, "while-backing-off")
    assert len(service.transactions()) == attempts

    # Down altogether: the retry cannot connect; the transaction stays as it was.
    service.stop()
    _time_passes()
    result = tasks.send_transactions.delay("bridge").get()
    assert result["status"] == "failed"
    state = AppServiceState.objects.get(appservice_id="bridge")
    assert state.failures == 2 and state.txn_body == first_try.body
    assert transactions.backoff_ms(2) > transactions.backoff_ms(1)
    m3 = say(alice, room, "while-down")

    # Back: the same transaction id with the same events, then the rest, each event once.
    service.status = 200
    service.start()
    _time_passes()
    result = tasks.send_transactions.delay("bridge").get()
    assert result["status"] == "idle"
    retried = [t for t in service.transactions() if t.path == first_try.path]
    assert [t.answered for t in retried] == [500, 200]
    assert retried[1].body == first_try.body
    delivered = [e["event_id"] for e in service.acknowledged_events()][before:]
    assert delivered == [m1, m2, m3]
    state = AppServiceState.objects.get(appservice_id="bridge")
    assert (state.failures, state.retry_at_ms, state.txn_id) == (0, None, None)


def test_a_lost_wakeup_is_found_by_the_sweep(mx, alice, service, monkeypatch):
    ivy = bridge_user(mx, "_bridge_ivy")
    room = create_room(alice)
    assert mx.post(f"{API}/join/{room}?user_id={ivy}", {}, token=AS_TOKEN).status_code == 200
    from apps.appservice import wakeups

    monkeypatch.setattr(wakeups, "wake", lambda service_id: None)
    lost = say(alice, room, "nobody-woke-me")
    assert lost not in [e["event_id"] for e in service.acknowledged_events()]
    assert tasks.sweep.delay().get() == ["bridge"]
    assert [e["event_id"] for e in service.acknowledged_events()][-1] == lost
    assert tasks.sweep.delay().get() == []


def test_one_sender_at_a_time(mx, alice, service):
    from apps.appservice import stores

    ivy = bridge_user(mx, "_bridge_ivy")
    room = create_room(alice)
    assert mx.post(f"{API}/join/{room}?user_id={ivy}", {}, token=AS_TOKEN).status_code == 200
    assert stores.take_lease("bridge", "someone-else", 60_000)
    m = say(alice, room, "held")
    assert m not in [e["event_id"] for e in service.acknowledged_events()]
    assert transactions.deliver("bridge").status == "busy"
    # A sender that died keeps the lease only until it expires.
    AppServiceState.objects.update(lease_until_ms=1)
    assert transactions.deliver("bridge").status == "idle"
    assert [e["event_id"] for e in service.acknowledged_events()][-1] == m


def test_alias_query_lets_the_service_create_the_alias(mx, alice, service):
    from apps.rooms import directory_store

    room = create_room(alice)
    service.on_query_alias = lambda alias: alias == "#_bridge_new:test.local" and directory_store.create_alias(
        alias, room, "@_bridge_bot:test.local")
    resp = mx.get(f"{API}/directory/room/%23_bridge_new:test.local", token=None)
    assert resp.status_code == 200, resp.json_body
    assert resp.json_body["room_id"] == room
    assert [r.path for r in service.requests if "/rooms/" in r.path] == [
        "/_matrix/app/v1/rooms/#_bridge_new:test.local"]
    assert mx.get(f"{API}/directory/room/%23_bridge_gone:test.local", token=None).status_code == 404
    # Outside every namespace: no query at all.
    asked = len(service.requests)
    assert mx.get(f"{API}/directory/room/%23plain:test.local", token=None).status_code == 404
    assert len(service.requests) == asked


def test_user_query_lets_the_service_create_the_user(mx, alice, service):
    from apps.accounts.models import User

    def create(user_id: str) -> bool:
        User.objects.create_user(user_id[1:].split(":")[0], displayname="Made on demand")
        return True

    service.on_query_user = create
    resp = mx.get(f"{API}/profile/@_bridge_ondemand:test.local", token=alice.token)
    assert resp.status_code == 200, resp.json_body
    assert resp.json_body["displayname"] == "Made on demand"
    asked = len(service.requests)
    assert mx.get(f"{API}/profile/@nobody:test.local", token=alice.token).status_code == 404
    assert len(service.requests) == asked


@pytest.mark.skipif(os.environ.get("HS_TEST_TIER", "fast") != "services",
                    reason="two threads writing at once: the fast tier's in-memory SQLite (shared cache) refuses "
                           "the second writer at once instead of waiting ('database table is locked')")
def test_embedded_default_delivers_on_a_background_thread(mx, alice, service, monkeypatch):
    """Without a broker, a slow service does not hold up the client whose event woke it, and a failed
    transaction is retried by a timer after the backoff."""
    import time

    from apps.appservice import wakeups

    monkeypatch.setattr(wakeups, "IN_PROCESS_THREAD", True)
    monkeypatch.setattr(transactions, "BACKOFF_BASE_MS", 100)

    def wait_for(predicate, timeout=10.0):
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.05)

    def delivered():
        return [e["event_id"] for e in service.acknowledged_events()]

    ivy = bridge_user(mx, "_bridge_ivy")
    room = create_room(alice)
    assert mx.post(f"{API}/join/{room}?user_id={ivy}", {}, token=AS_TOKEN).status_code == 200
    service.delay = 1.0
    started = time.monotonic()
    slow = say(alice, room, "slow-service")
    assert time.monotonic() - started < 0.8
    wait_for(lambda: slow in delivered())

    service.delay = 0
    service.status = 500
    retried = say(alice, room, "retried-by-timer")
    wait_for(lambda: any(t.answered == 500 for t in service.transactions()))
    service.status = 200
    wait_for(lambda: retried in delivered())
    assert delivered().count(retried) == 1
