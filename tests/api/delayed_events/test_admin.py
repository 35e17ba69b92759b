"""The admin console's list of delayed events: pending ones by default, the others by status, cancel."""
from __future__ import annotations

import pytest
from django.test import Client

from apps.accounts.models import User
from apps.delayed_events.models import DelayedEvent
from tests.api.delayed_events.helpers import act, pending, schedule_message
from tests.api.rooms.helpers import create_room

URL = "/admin/delayed_events/delayedevent/"


@pytest.fixture
def console(db) -> Client:
    c = Client()
    c.force_login(User.objects.create_user("root", "root password 1", admin=True))
    return c


def test_console_lists_pending_delayed_events_and_can_cancel_them(alice, console):
    room_id = create_room(alice)
    waiting = schedule_message(alice, room_id, 60_000, "waiting").json_body["delay_id"]
    gone = schedule_message(alice, room_id, 60_000, "gone").json_body["delay_id"]
    assert act(alice, gone, "cancel").status_code == 200

    page = console.get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert waiting in html and gone not in html and alice.user_id in html
    cancelled = console.get(URL + "?status=cancelled").content.decode()
    assert gone in cancelled and waiting not in cancelled
    assert console.get(URL + "?status=all").status_code == 200

    pk = DelayedEvent.objects.get(delay_id=waiting).pk
    resp = console.post(URL, {"action": "cancel_selected", "_selected_action": [pk]})
    assert resp.status_code == 302
    assert DelayedEvent.objects.get(pk=pk).status == DelayedEvent.CANCELLED
    assert pending(alice) == []
    assert console.get(f"{URL}{pk}/change/").status_code == 200
    assert console.get(URL + "add/").status_code == 403
