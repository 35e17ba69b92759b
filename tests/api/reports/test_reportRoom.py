"""POST /rooms/{roomId}/report (reporting content), and the admin console's list of reports."""
from __future__ import annotations

from apps.reports.models import Report
from tests.api.rooms.helpers import API, create_room
from tests.api.reports.helpers import assert_not_found
from tests.conftest import assert_error


def test_report_room_without_being_joined(alice, bob):
    room_id = create_room(alice)  # private: bob is not in it, and may still report it (spec v1.13)
    resp = bob.post(f"{API}/rooms/{room_id}/report", {"reason": ""})
    assert resp.status_code == 200, resp.json_body
    report = Report.objects.get()
    assert (report.kind, report.room_id, report.event_id, report.reason) == ("room", room_id, None, "")


def test_report_room_errors(alice, bob):
    room_id = create_room(alice)
    assert_error(bob.post(f"{API}/rooms/{room_id}/report", {}), 400, "M_MISSING_PARAM")
    assert_not_found(bob.post(f"{API}/rooms/!unknown:localhost/report", {"reason": "x"}))


def test_admin_lists_filters_and_marks_reports_handled(alice, bob):
    from django.test import Client

    from apps.accounts.models import User

    room_id = create_room(alice)
    assert bob.post(f"{API}/rooms/{room_id}/report", {"reason": "bad room"}).status_code == 200
    assert bob.post(f"{API}/users/{alice.user_id}/report", {"reason": "bad user"}).status_code == 200
    admin_user = User.objects.get(localpart="alice")
    admin_user.admin = True
    admin_user.save()
    web = Client()
    web.force_login(admin_user)
    listing = web.get("/admin/reports/report/")
    assert listing.status_code == 200
    assert b"bad room" in listing.content and b"bad user" in listing.content
    filtered = web.get("/admin/reports/report/?kind__exact=room")
    assert b"bad room" in filtered.content and b"bad user" not in filtered.content
    ids = list(Report.objects.values_list("pk", flat=True))
    resp = web.post("/admin/reports/report/", {"action": "mark_handled", "_selected_action": ids[:1]})
    assert resp.status_code == 302
    assert sorted(Report.objects.values_list("handled", flat=True)) == [False, True]
