"""getNotifications (from, limit, only=highlight, next_token, read) and the pushers API (getPushers,
postPusher: http and email kinds, append, deletion with kind null, validation)."""
from __future__ import annotations

import pytest

from apps.push.models import Pusher
from tests.api.rooms.helpers import create_room, send
from tests.conftest import MatrixClient, assert_error

pytestmark = pytest.mark.django_db(transaction=True)

API = "/_matrix/client/v3"
GATEWAY = "https://push.example.org/_matrix/push/v1/notify"


def msg(client, room_id, text="hello", **content):
    resp = send(client, room_id, {"msgtype": "m.text", "body": text, **content})
    assert resp.status_code == 200, resp.json_body
    return resp.json_body["event_id"]


@pytest.fixture
def room(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    assert bob.post(f"{API}/join/{room_id}").status_code == 200
    return room_id


def test_notifications_pages_newest_first(alice, bob, room):
    sent = [msg(alice, room, f"m{i}") for i in range(5)]
    page = bob.get(f"{API}/notifications?limit=2").json_body
    assert [n["event"]["event_id"] for n in page["notifications"]] == [sent[4], sent[3]]
    n = page["notifications"][0]
    assert n["room_id"] == room and "notify" in n["actions"] and n["read"] is False
    assert isinstance(n["ts"], int) and "room_id" not in n["event"]
    seen = [x["event"]["event_id"] for x in page["notifications"]]
    while "next_token" in page:
        page = bob.get(f"{API}/notifications?limit=2&from={page['next_token']}").json_body
        seen += [x["event"]["event_id"] for x in page["notifications"]]
    assert seen == sent[::-1]
    assert alice.get(f"{API}/notifications").json_body == {"notifications": []}


def test_notifications_only_highlight_and_read_flag(alice, bob, room):
    e1 = msg(alice, room, "plain")
    e2 = msg(alice, room, "hey", **{"m.mentions": {"user_ids": [bob.user_id]}})
    e3 = msg(alice, room, "later")
    only = bob.get(f"{API}/notifications?only=highlight").json_body["notifications"]
    assert [n["event"]["event_id"] for n in only] == [e2]
    assert {"set_tweak": "highlight"} in only[0]["actions"]
    assert bob.post(f"{API}/rooms/{room}/receipt/m.read/{e2}", {}).status_code == 200
    read = {n["event"]["event_id"]: n["read"] for n in bob.get(f"{API}/notifications").json_body["notifications"]}
    assert read == {e1: True, e2: True, e3: False}


def test_notifications_errors(bob):
    assert_error(bob.get(f"{API}/notifications?from=abc"), 400, "M_INVALID_PARAM")
    assert_error(bob.get(f"{API}/notifications?limit=x"), 400, "M_INVALID_PARAM")
    assert_error(bob.get(f"{API}/notifications?limit=0"), 400, "M_INVALID_PARAM")
    assert_error(bob.get(f"{API}/notifications", token=None), 401, "M_MISSING_TOKEN")


def pusher(**over):
    body = {"kind": "http", "app_id": "com.example.app.ios", "pushkey": "APA91b", "app_display_name": "Mat Rix",
            "device_display_name": "iPhone 9", "profile_tag": "xxyyzz", "lang": "en",
            "data": {"url": GATEWAY, "format": "event_id_only"}}
    body.update(over)
    return {k: v for k, v in body.items() if v is not ...}


def test_set_get_update_delete_pusher(alice):
    assert alice.get(f"{API}/pushers").json_body == {"pushers": []}
    resp = alice.post(f"{API}/pushers/set", pusher())
    assert resp.status_code == 200 and resp.json_body == {}
    assert alice.get(f"{API}/pushers").json_body == {"pushers": [{
        "pushkey": "APA91b", "kind": "http", "app_id": "com.example.app.ios", "app_display_name": "Mat Rix",
        "device_display_name": "iPhone 9", "profile_tag": "xxyyzz", "lang": "en",
        "data": {"url": GATEWAY, "format": "event_id_only"}}]}
    alice.post(f"{API}/pushers/set", pusher(lang="fr", profile_tag=...))
    got = alice.get(f"{API}/pushers").json_body["pushers"]
    assert len(got) == 1 and got[0]["lang"] == "fr" and "profile_tag" not in got[0]
    row = Pusher.objects.get(user_id=alice.user_id)
    assert row.device_id == alice.device_id and row.last_stream_ordering >= 0
    assert alice.post(f"{API}/pushers/set", {"kind": None, "app_id": "com.example.app.ios",
                                             "pushkey": "APA91b"}).status_code == 200
    assert alice.get(f"{API}/pushers").json_body == {"pushers": []}


def test_new_pusher_starts_at_the_present(alice, bob, room):
    msg(alice, room)
    bob.post(f"{API}/pushers/set", pusher())
    from apps.rooms.models import EventRow
    from django.db.models import Max
    assert Pusher.objects.get(user_id=bob.user_id).last_stream_ordering == \
        EventRow.objects.aggregate(m=Max("stream_ordering"))["m"]


def test_append_keeps_other_users_pushers(alice, bob):
    assert alice.post(f"{API}/pushers/set", pusher()).status_code == 200
    assert bob.post(f"{API}/pushers/set", pusher(append=True)).status_code == 200
    assert len(alice.get(f"{API}/pushers").json_body["pushers"]) == 1
    assert bob.post(f"{API}/pushers/set", pusher()).status_code == 200
    assert alice.get(f"{API}/pushers").json_body["pushers"] == []
    assert len(bob.get(f"{API}/pushers").json_body["pushers"]) == 1


def test_email_pusher(alice):
    body = pusher(kind="email", app_id="m.email", pushkey="alice@example.org", data={})
    assert alice.post(f"{API}/pushers/set", body).status_code == 200
    assert alice.get(f"{API}/pushers").json_body["pushers"][0]["kind"] == "email"
    assert_error(alice.post(f"{API}/pushers/set", pusher(kind="email", app_id="m.email", pushkey="nope", data={})),
                 400, "M_INVALID_PARAM")
    assert_error(alice.post(f"{API}/pushers/set", pusher(kind="email", pushkey="a@example.org", data={})),
                 400, "M_INVALID_PARAM")


@pytest.mark.parametrize("over,errcode", [
    ({"kind": ...}, "M_MISSING_PARAM"),
    ({"app_id": ...}, "M_MISSING_PARAM"),
    ({"lang": ...}, "M_MISSING_PARAM"),
    ({"data": ...}, "M_MISSING_PARAM"),
    ({"kind": "carrier-pigeon"}, "M_INVALID_PARAM"),
    ({"data": {}}, "M_MISSING_PARAM"),
    ({"data": {"url": "not a url"}}, "M_INVALID_PARAM"),
    ({"data": {"url": "ftp://push.example.org/_matrix/push/v1/notify"}}, "M_INVALID_PARAM"),
    ({"data": {"url": "https://push.example.org/elsewhere"}}, "M_INVALID_PARAM"),
    ({"data": {"url": GATEWAY, "format": "full"}}, "M_INVALID_PARAM"),
    ({"data": "x"}, "M_BAD_JSON"),
    ({"app_id": "x" * 65}, "M_INVALID_PARAM"),
    ({"pushkey": "k" * 513}, "M_INVALID_PARAM"),
    ({"lang": 5}, "M_BAD_JSON"),
    ({"append": "yes"}, "M_BAD_JSON"),
])
def test_postpusher_errors(alice, over, errcode):
    assert_error(alice.post(f"{API}/pushers/set", pusher(**over)), 400, errcode)
    assert alice.get(f"{API}/pushers").json_body == {"pushers": []}


def test_redaction_removes_the_notification(alice, bob, room):
    keep = msg(alice, room, "keep")
    gone = msg(alice, room, "oops")
    resp = alice.put(f"{API}/rooms/{room}/redact/{gone}/txn1", {})
    assert resp.status_code == 200, resp.json_body
    got = [n["event"]["event_id"] for n in bob.get(f"{API}/notifications").json_body["notifications"]]
    assert got == [keep]


def test_pusher_queue_helpers(alice, bob, room):
    """What the pusher queue reads: the actions after a pusher's position, oldest first, and the badge."""
    from apps.push import counts, stores

    bob.post(f"{API}/pushers/set", pusher())
    start = Pusher.objects.get(user_id=bob.user_id).last_stream_ordering
    e1, e2 = msg(alice, room, "one"), msg(alice, room, "two")
    up_to = stores.current_events_position()
    assert [a.event_id for a in stores.actions_for_pusher(bob.user_id, start, up_to, 10)] == [e1, e2]
    assert [a.event_id for a in stores.actions_for_pusher(bob.user_id, start, up_to, 1)] == [e1]
    assert counts.badge_count(bob.user_id, up_to) == 2
    bob.post(f"{API}/rooms/{room}/receipt/m.read/{e1}", {})
    assert counts.badge_count(bob.user_id, up_to) == 1


def test_logout_removes_the_devices_pushers(alice):
    other = MatrixClient()
    resp = other.post(f"{API}/login", {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"},
                                       "password": "correct horse battery"}, token=None)
    assert resp.status_code == 200, resp.json_body
    other.token = resp.json_body["access_token"]
    assert alice.post(f"{API}/pushers/set", pusher(pushkey="phone")).status_code == 200
    assert other.post(f"{API}/pushers/set", pusher(pushkey="laptop")).status_code == 200
    assert other.post(f"{API}/logout").status_code == 200
    assert [p["pushkey"] for p in alice.get(f"{API}/pushers").json_body["pushers"]] == ["phone"]
