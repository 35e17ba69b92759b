"""Email pushers on the `pusher` queue (Django's locmem email backend): one email per room's batch once
`email.notif_delay` has passed, nothing for what the user read first, the per-room throttle (doubling
while unread), the unsubscribe link (and a forged one refused), a backend failure retried with the
position kept, and nothing at all unless `email.enable_notifs`. Time is driven by `deliver(now_ms=...)`.
"""
from __future__ import annotations

import re
import smtplib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core import mail

from apps.push.models import Pusher
from apps.push_delivery import delivery, email, stores, wakeups
from apps.push_delivery.models import EmailRoomThrottle, PusherDeliveryState
from hsproject.config import ConfigError
from hsproject.config.sections import EmailConfig, build
from tests.api.rooms.helpers import API, create_room, send
from tests.conftest import assert_error
from workers import pusher as pusher_tasks

pytestmark = pytest.mark.django_db(transaction=True)

MIN = 60_000
ADDRESS = "bob@example.org"


@pytest.fixture(autouse=True)
def _inline(monkeypatch):
    monkeypatch.setattr(wakeups, "IN_PROCESS_THREAD", False)


@pytest.fixture
def enabled(settings):
    settings.HS = settings.HS.replace(email=EmailConfig(
        enable_notifs=True, smtp_host="127.0.0.1", notif_from="%(app)s <noreply@example.org>", app_name="Cheesy",
        client_base_url="https://client.example.org"))
    mail.outbox.clear()


def set_email_pusher(client, address=ADDRESS) -> Pusher:
    body = {"kind": "email", "app_id": "m.email", "pushkey": address, "app_display_name": "Email",
            "device_display_name": address, "lang": "en", "data": {}}
    resp = client.post(f"{API}/pushers/set", body)
    assert resp.status_code == 200, resp.json_body
    return Pusher.objects.get(user_id=client.user_id, pushkey=address)


def say(client, room_id: str, text: str) -> str:
    resp = send(client, room_id, {"msgtype": "m.text", "body": text})
    assert resp.status_code == 200, resp.json_body
    return resp.json_body["event_id"]


def room_with(alice, bob, name: str) -> str:
    room_id = create_room(alice, preset="public_chat", name=name)
    assert bob.post(f"{API}/rooms/{room_id}/join").status_code == 200
    return room_id


def read(client, room_id: str, event_id: str) -> None:
    assert client.post(f"{API}/rooms/{room_id}/receipt/m.read/{event_id}", {}).status_code == 200


def html_of(message) -> str:
    [(content, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return content


def test_one_email_for_several_messages_after_the_delay(alice, bob, enabled):
    room_id = room_with(alice, bob, "Cheese club")
    pusher = set_email_pusher(bob)
    t0 = stores.now_ms()
    for text in ("first <b>", "second", "third"):
        say(alice, room_id, text)
    # Each message woke the pusher: nothing is due yet, and the position waits before the first message.
    assert mail.outbox == []
    start = Pusher.objects.get(pk=pusher.pk).last_stream_ordering
    assert start == pusher.last_stream_ordering
    assert delivery.deliver(pusher.pk, now_ms=t0 + 9 * MIN).status == "waiting"
    assert mail.outbox == []

    result = delivery.deliver(pusher.pk, now_ms=t0 + 11 * MIN)
    assert (result.status, result.sent) == ("idle", 1)
    [message] = mail.outbox
    assert message.to == [ADDRESS] and message.from_email == "Cheesy <noreply@example.org>"
    assert message.subject == "[Cheesy] New messages in Cheese club"
    for text in ("first <b>", "second", "third"):
        assert text in message.body
    html = html_of(message)
    assert "first &lt;b&gt;" in html and "first <b>" not in html
    assert f"https://client.example.org/#/room/{room_id}" in message.body
    assert "alice" in message.body
    assert "/_matrix/client/unstable/pushers/remove?token=" in message.extra_headers["List-Unsubscribe"]
    assert Pusher.objects.get(pk=pusher.pk).last_stream_ordering > start
    # Sent once: a later run finds nothing.
    assert delivery.deliver(pusher.pk, now_ms=t0 + 60 * MIN).status == "idle"
    assert len(mail.outbox) == 1


def test_nothing_is_emailed_for_what_was_read_first(alice, bob, enabled):
    room_id = room_with(alice, bob, "Cheese club")
    pusher = set_email_pusher(bob)
    t0 = stores.now_ms()
    say(alice, room_id, "one")
    last = say(alice, room_id, "two")
    read(bob, room_id, last)
    assert delivery.deliver(pusher.pk, now_ms=t0 + 11 * MIN).status == "idle"
    assert mail.outbox == []
    assert Pusher.objects.get(pk=pusher.pk).last_stream_ordering > pusher.last_stream_ordering
    # Only what is unread goes: read up to "three", then "four" arrives.
    three = say(alice, room_id, "three")
    read(bob, room_id, three)
    say(alice, room_id, "four")
    delivery.deliver(pusher.pk, now_ms=t0 + 22 * MIN)
    [message] = mail.outbox
    assert "four" in message.body and "three" not in message.body and "two" not in message.body


def test_throttle_per_room_doubles_while_unread(alice, bob, enabled):
    cheese = room_with(alice, bob, "Cheese club")
    wine = room_with(alice, bob, "Wine club")
    pusher = set_email_pusher(bob)
    t0 = stores.now_ms()
    say(alice, cheese, "c1")
    delivery.deliver(pusher.pk, now_ms=t0 + 11 * MIN)
    assert [m.subject for m in mail.outbox] == ["[Cheesy] New messages in Cheese club"]

    # More in the same room within the hour: held back by the room's throttle.
    say(alice, cheese, "c2")
    assert delivery.deliver(pusher.pk, now_ms=t0 + 41 * MIN).status == "waiting"
    assert len(mail.outbox) == 1
    # Another room is not throttled by the first: its email goes alone.
    say(alice, wine, "w1")
    assert delivery.deliver(pusher.pk, now_ms=t0 + 42 * MIN).status == "waiting"
    assert [m.subject for m in mail.outbox][1:] == ["[Cheesy] New messages in Wine club"]
    assert "c2" not in mail.outbox[1].body
    # An hour after the first email, the held message goes; unread, the next interval doubles to 2 h.
    assert delivery.deliver(pusher.pk, now_ms=t0 + 72 * MIN).status == "idle"
    assert "c2" in mail.outbox[2].body and "c1" not in mail.outbox[2].body
    row = EmailRoomThrottle.objects.get(pusher_id=pusher.pk, room_id=cheese)
    assert row.throttle_ms == 2 * email.THROTTLE_START_MS

    say(alice, cheese, "c3")
    assert delivery.deliver(pusher.pk, now_ms=t0 + (72 + 61) * MIN).status == "waiting"
    assert len(mail.outbox) == 3
    assert delivery.deliver(pusher.pk, now_ms=t0 + (72 + 121) * MIN).status == "idle"
    assert "c3" in mail.outbox[3].body
    assert EmailRoomThrottle.objects.get(pusher_id=pusher.pk, room_id=cheese).throttle_ms == 4 * email.THROTTLE_START_MS

    # Once bob has read the room, the throttle is back to an hour.
    read(bob, cheese, say(alice, cheese, "c4"))
    say(alice, cheese, "c5")
    assert delivery.deliver(pusher.pk, now_ms=t0 + (193 + 61) * MIN).status == "idle"
    assert "c5" in mail.outbox[4].body and "c4" not in mail.outbox[4].body
    assert EmailRoomThrottle.objects.get(pusher_id=pusher.pk, room_id=cheese).throttle_ms == email.THROTTLE_START_MS


def test_the_unsubscribe_link_removes_the_pusher_and_a_forged_one_is_refused(alice, bob, mx, enabled):
    room_id = room_with(alice, bob, "Cheese club")
    pusher = set_email_pusher(bob)
    set_email_pusher(bob, "other@example.org")
    t0 = stores.now_ms()
    say(alice, room_id, "hello")
    delivery.deliver(pusher.pk, now_ms=t0 + 11 * MIN)
    message = next(m for m in mail.outbox if m.to == [ADDRESS])
    url = re.search(r"Unsubscribe: (\S+)", message.body).group(1)
    assert url in html_of(message).replace("&amp;", "&")
    link = urlsplit(url)
    path = f"{link.path}?{link.query}"

    forged = email.unsubscribe_token(bob.user_id, "m.email", ADDRESS)[:-2] + "xx"
    assert_error(mx.get(f"{link.path}?token={forged}"), 400, "M_INVALID_PARAM")
    assert_error(mx.get(link.path), 400, "M_INVALID_PARAM")
    # A token signed with another key is not this server's.
    from django.core import signing
    other = signing.dumps([bob.user_id, "m.email", ADDRESS], key="not-the-secret", salt=email.UNSUBSCRIBE_SALT)
    assert_error(mx.get(f"{link.path}?token={other}"), 400, "M_INVALID_PARAM")
    assert Pusher.objects.filter(pk=pusher.pk).exists()

    resp = mx.get(path)  # no access token: the link is the credential
    assert resp.status_code == 200 and b"will no longer receive" in resp.content
    assert [p["pushkey"] for p in bob.get(f"{API}/pushers").json_body["pushers"]] == ["other@example.org"]
    assert not PusherDeliveryState.objects.filter(pusher_id=pusher.pk).exists()
    assert not EmailRoomThrottle.objects.filter(pusher_id=pusher.pk).exists()
    # Visiting it again (or a one-click POST) is harmless.
    assert mx.post(path, {}).status_code == 200


def test_a_backend_failure_is_retried_and_keeps_the_position(alice, bob, enabled, monkeypatch):
    room_id = room_with(alice, bob, "Cheese club")
    pusher = set_email_pusher(bob)
    t0 = stores.now_ms()
    say(alice, room_id, "hello")

    def refuse(self, fail_silently=False):
        raise smtplib.SMTPServerDisconnected("gone")
    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", refuse)
    result = delivery.deliver(pusher.pk, now_ms=t0 + 11 * MIN)
    assert result.status == "failed" and result.retry_in_ms == 1000
    state = PusherDeliveryState.objects.get(pusher_id=pusher.pk)
    assert state.failures == 1 and "SMTPServerDisconnected" in state.last_error
    assert Pusher.objects.get(pk=pusher.pk).last_stream_ordering == pusher.last_stream_ordering
    assert delivery.deliver(pusher.pk, now_ms=t0 + 11 * MIN).status == "backoff"

    monkeypatch.undo()
    monkeypatch.setattr(wakeups, "IN_PROCESS_THREAD", False)
    PusherDeliveryState.objects.filter(pusher_id=pusher.pk).update(retry_at_ms=0)
    assert delivery.deliver(pusher.pk, now_ms=t0 + 11 * MIN).status == "idle"
    [message] = mail.outbox
    assert "hello" in message.body
    assert PusherDeliveryState.objects.get(pusher_id=pusher.pk).failures == 0
    assert Pusher.objects.get(pk=pusher.pk).failing_since_ts is None


def test_a_refused_address_drops_the_batch_and_a_room_name_cannot_break_the_subject(alice, bob, enabled,
                                                                                   monkeypatch):
    room_id = room_with(alice, bob, "Cheese\nBcc: eve@example.org")
    pusher = set_email_pusher(bob)
    t0 = stores.now_ms()
    say(alice, room_id, "hello")

    def refuse(self, fail_silently=False):
        raise smtplib.SMTPRecipientsRefused({ADDRESS: (550, b"no such user")})
    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", refuse)
    assert delivery.deliver(pusher.pk, now_ms=t0 + 11 * MIN).status == "idle"
    assert Pusher.objects.get(pk=pusher.pk).last_stream_ordering > pusher.last_stream_ordering
    assert PusherDeliveryState.objects.get(pusher_id=pusher.pk).failures == 0

    monkeypatch.undo()
    monkeypatch.setattr(wakeups, "IN_PROCESS_THREAD", False)
    say(alice, room_id, "again")
    delivery.deliver(pusher.pk, now_ms=t0 + 2 * 60 * MIN)
    [message] = mail.outbox
    assert message.subject == "[Cheesy] New messages in Cheese Bcc: eve@example.org"
    assert "again" in message.body and "hello" not in message.body
    assert message.message()["Bcc"] is None


def test_the_sweep_comes_back_for_a_waiting_batch(alice, bob, enabled):
    room_id = room_with(alice, bob, "Cheese club")
    pusher = set_email_pusher(bob)
    say(alice, room_id, "hello")
    assert pusher_tasks.sweep.apply().get() == [pusher.pk]
    # Moving the notification's time back makes it due for the sweep's run.
    from apps.push.models import EventPushAction
    EventPushAction.objects.filter(user_id=bob.user_id).update(ts=stores.now_ms() - 11 * MIN)
    pusher_tasks.sweep.apply()
    assert len(mail.outbox) == 1
    assert pusher_tasks.sweep.apply().get() == []


def test_disabled_sends_nothing(alice, bob, settings):
    assert settings.HS.email.enable_notifs is False
    mail.outbox.clear()
    room_id = room_with(alice, bob, "Cheese club")
    pusher = set_email_pusher(bob)
    t0 = stores.now_ms()
    say(alice, room_id, "hello")
    assert delivery.deliver(pusher.pk, now_ms=t0 + 60 * MIN).status == "gone"
    assert pusher_tasks.sweep.apply().get() == []
    assert mail.outbox == []


@pytest.mark.parametrize("email_section, key", [
    ({"enable_notifs": True, "smtp_host": "mail.example.org"}, "email.notif_from"),
    ({"enable_notifs": True, "notif_from": "hs@example.org"}, "email.smtp_host"),
    ({"notif_from": "no address"}, "email.notif_from"),
    ({"notif_delay": "soon"}, "email.notif_delay"),
    ({"smtp_prot": 25}, "email.smtp_prot"),
])
def test_config_errors_name_the_key(email_section, key):
    with pytest.raises(ConfigError) as e:
        build({"server_name": "example.org", "form_secret": "s", "email": email_section}, embedded=False,
              data_directory=Path("/tmp/hs-email-test"))
    assert key in str(e.value)


def test_config_maps_onto_django_email_settings():
    from hsproject.settings.base import django_settings

    hs = build({"server_name": "example.org", "form_secret": "s", "email": {
        "enable_notifs": True, "smtp_host": "mail.example.org", "smtp_port": 587, "smtp_user": "hs",
        "smtp_pass": "pw", "require_transport_security": True, "notif_from": "%(app)s <hs@example.org>",
        "app_name": "Example"}}, embedded=False, data_directory=Path("/tmp/hs-email-test"))
    out = django_settings(hs)
    assert (out["EMAIL_HOST"], out["EMAIL_PORT"], out["EMAIL_HOST_USER"], out["EMAIL_HOST_PASSWORD"]) == (
        "mail.example.org", 587, "hs", "pw")
    assert out["EMAIL_USE_TLS"] is True and out["EMAIL_USE_SSL"] is False
    assert out["DEFAULT_FROM_EMAIL"] == "Example <hs@example.org>"
    assert hs.email.notif_delay_ms == 600_000


def test_query_counts_do_not_grow_with_messages(alice, bob, enabled, django_assert_max_num_queries):
    rooms = [room_with(alice, bob, f"Room {i}") for i in range(3)]
    pusher = set_email_pusher(bob)
    t0 = stores.now_ms()
    for i in range(12):
        say(alice, rooms[i % 3], f"m{i}")
    # Each message's wake-up while the batch waits: a handful of queries, whatever the backlog.
    with django_assert_max_num_queries(12):
        assert delivery.deliver(pusher.pk, now_ms=t0 + MIN).status == "waiting"
    # The email itself: a few queries per room, not per message.
    with django_assert_max_num_queries(14 + 4 * len(rooms)):
        assert delivery.deliver(pusher.pk, now_ms=t0 + 11 * MIN).status == "idle"
    [message] = mail.outbox
    assert message.subject == "[Cheesy] New messages in 3 rooms"
    assert all(f"m{i}" in message.body for i in range(12))


def test_in_process_one_timer_per_waiting_pusher(monkeypatch):
    started = []

    class FakeTimer:
        def __init__(self, delay, fn):
            self.delay, self.fn, self.daemon = delay, fn, False

        def start(self):
            started.append(self)
    monkeypatch.setattr(wakeups, "IN_PROCESS_THREAD", True)
    monkeypatch.setattr(wakeups.threading, "Timer", FakeTimer)
    monkeypatch.setattr(wakeups, "_waits", {})
    woken = []
    monkeypatch.setattr(wakeups, "wake", woken.append)
    wakeups.schedule_wait(7, 600_000)
    wakeups.schedule_wait(7, 500_000 + 200_000)  # later than the pending timer: nothing new
    assert [t.delay for t in started] == [600.0]
    wakeups.schedule_wait(7, 60_000)  # earlier: a new timer
    wakeups.schedule_wait(8, 10 * 86_400_000)  # capped at an hour: the run then looks again
    assert [t.delay for t in started] == [600.0, 60.0, 3600.0]
    started[0].fn()  # superseded: still wakes (harmless), and leaves the newer entry alone
    assert 7 in wakeups._waits
    started[1].fn()
    assert woken == [7, 7] and 7 not in wakeups._waits
