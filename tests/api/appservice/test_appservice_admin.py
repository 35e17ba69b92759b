"""The Django admin pages of application-service delivery state, and the "retry now" action."""
from __future__ import annotations

import pytest
from django.test import Client

from apps.accounts.models import User
from apps.appservice.models import AppServiceState


@pytest.fixture
def console(db) -> Client:
    c = Client()
    c.force_login(User.objects.create_user("root", "root password 1", admin=True))
    return c


def test_state_is_listed_and_retry_now_ends_the_backoff(console, monkeypatch):
    from apps.appservice import wakeups

    woken = []
    monkeypatch.setattr(wakeups, "wake", woken.append)
    AppServiceState.objects.create(appservice_id="bridge", stream_position=7, failures=3, retry_at_ms=10**13,
                                   last_error="ConnectError: refused")
    page = console.get("/admin/appservice/appservicestate/")
    assert page.status_code == 200 and "ConnectError: refused" in page.content.decode()
    resp = console.post("/admin/appservice/appservicestate/", {"action": "retry_now", "_selected_action": ["bridge"]})
    assert resp.status_code == 302
    assert AppServiceState.objects.get().retry_at_ms is None and woken == ["bridge"]
    assert console.get("/admin/appservice/appserviceroomlisting/").status_code == 200
