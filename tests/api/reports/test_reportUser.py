"""POST /users/{userId}/report (reporting content), and the per-reporter rate limit."""
from __future__ import annotations

from apps.reports.models import Report
from hsproject.config.sections import RateLimit
from tests.api.rooms.helpers import API
from tests.api.reports.helpers import assert_not_found
from tests.conftest import assert_error


def test_report_user(alice, bob):
    resp = bob.post(f"{API}/users/{alice.user_id}/report", {"reason": "rude"})
    assert resp.status_code == 200, resp.json_body
    report = Report.objects.get()
    assert (report.kind, report.target_user_id, report.reporter, report.reason) == (
        "user", alice.user_id, bob.user_id, "rude")


def test_report_user_errors(alice, bob, settings):
    assert_error(bob.post(f"{API}/users/{alice.user_id}/report", {}), 400, "M_MISSING_PARAM")
    assert_error(bob.post(f"{API}/users/not-a-user/report", {"reason": "x"}), 400, "M_INVALID_PARAM")
    server = settings.HS.server_name
    assert_not_found(bob.post(f"{API}/users/@nobody:{server}/report", {"reason": "x"}))
    assert_not_found(bob.post(f"{API}/users/@someone:elsewhere.example/report", {"reason": "x"}))
    assert not Report.objects.exists()


def test_reports_are_rate_limited_per_user(alice, bob, settings):
    settings.HS = settings.HS.replace(rc_reports=RateLimit(0.001, 2))
    for _ in range(2):
        assert bob.post(f"{API}/users/{alice.user_id}/report", {"reason": "x"}).status_code == 200
    body = assert_error(bob.post(f"{API}/users/{alice.user_id}/report", {"reason": "x"}), 429, "M_LIMIT_EXCEEDED")
    assert body["retry_after_ms"] > 0
    # Probing unknown IDs counts too, and another user has a limit of their own.
    assert_error(bob.post(f"{API}/rooms/!unknown:localhost/report", {"reason": "x"}), 429, "M_LIMIT_EXCEEDED")
    assert alice.post(f"{API}/users/{bob.user_id}/report", {"reason": "x"}).status_code == 200
    assert Report.objects.count() == 3
