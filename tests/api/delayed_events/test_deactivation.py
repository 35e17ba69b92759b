"""A deactivated account's delayed events are cancelled at once: nothing is sent in its name later."""
from __future__ import annotations

import pytest

from apps.delayed_events.models import DelayedEvent
from apps.jobs.deactivation import deactivate_account
from apps.accounts.models import User
from tests.api.delayed_events.helpers import bodies, schedule_message, sweep
from tests.api.rooms.helpers import API, create_room

pytestmark = pytest.mark.django_db(transaction=True)


def test_deactivation_cancels_pending_delayed_events(alice, bob):
    room_id = create_room(bob, preset="public_chat")
    assert alice.post(f"{API}/rooms/{room_id}/join").status_code == 200
    resp = schedule_message(alice, room_id, 1000, "from beyond")
    assert resp.status_code == 200, resp.json_body
    row = DelayedEvent.objects.get(delay_id=resp.json_body["delay_id"])
    deactivate_account(User.objects.get(localpart="alice"))
    row.refresh_from_db()
    assert (row.status, row.detail) == (DelayedEvent.CANCELLED, "account deactivated")
    sweep(row.send_ts + 10_000)
    assert "from beyond" not in bodies(bob, room_id)
