"""POST /rooms/{roomId}/report/{eventId}, /rooms/{roomId}/report, /users/{userId}/report (reporting content)."""
from __future__ import annotations

import pytest

from apps.reports.handlers import MAX_REASON_LENGTH
from apps.reports.models import Report
from hsproject.config.sections import RateLimit
from tests.api.rooms.helpers import API, create_room, send
from tests.conftest import assert_error


def _room_with_message(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    assert bob.post(f"{API}/rooms/{room_id}/join").status_code == 200
    event_id = send(alice, room_id).json_body["event_id"]
    return room_id, event_id


def test_report_event_stores_a_report(alice, bob):
    room_id, event_id = _room_with_message(alice, bob)
    resp = bob.post(f"{API}/rooms/{room_id}/report/{event_id}", {"reason": "spam", "score": -100})
    assert resp.status_code == 200, resp.json_body
    assert resp.json_body == {}
    report = Report.objects.get()
    assert (report.kind, report.reporter, report.room_id, report.event_id, report.reason, report.handled) == (
        "event", bob.user_id, room_id, event_id, "spam", False)


def test_report_event_reason_is_optional(alice, bob):
    room_id, event_id = _room_with_message(alice, bob)
    assert bob.post(f"{API}/rooms/{room_id}/report/{event_id}", {}).status_code == 200
    assert Report.objects.get().reason == ""


def test_report_event_not_joined_is_not_found(alice, bob):
    room_id, event_id = _room_with_message(alice, bob)
    assert bob.post(f"{API}/rooms/{room_id}/leave").status_code == 200
    assert_not_found(bob.post(f"{API}/rooms/{room_id}/report/{event_id}", {"reason": "x"}))
    assert not Report.objects.exists()


def test_report_event_of_a_private_room_is_the_same_not_found(alice, bob):
    private = create_room(alice)
    event_id = send(alice, private).json_body["event_id"]
    a = bob.post(f"{API}/rooms/{private}/report/{event_id}", {"reason": "x"})
    b = bob.post(f"{API}/rooms/!nope:localhost/report/$nope", {"reason": "x"})
    assert_not_found(a)
    assert_not_found(b)
    assert a.json_body == b.json_body


def test_report_event_of_another_room_or_unknown_event(alice, bob):
    room_id, _ = _room_with_message(alice, bob)
    other = create_room(alice, preset="public_chat")
    elsewhere = send(alice, other).json_body["event_id"]
    assert_not_found(bob.post(f"{API}/rooms/{room_id}/report/{elsewhere}", {"reason": "x"}))
    assert_not_found(bob.post(f"{API}/rooms/{room_id}/report/$unknown", {"reason": "x"}))


def test_report_event_before_the_reporter_could_see_it(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    assert alice.put(f"{API}/rooms/{room_id}/state/m.room.history_visibility",
                     {"history_visibility": "joined"}).status_code == 200
    early = send(alice, room_id).json_body["event_id"]
    assert bob.post(f"{API}/rooms/{room_id}/join").status_code == 200
    assert_not_found(bob.post(f"{API}/rooms/{room_id}/report/{early}", {"reason": "x"}))


def test_report_redacted_event_is_not_found(alice, bob):
    room_id, event_id = _room_with_message(alice, bob)
    assert alice.put(f"{API}/rooms/{room_id}/redact/{event_id}/t1", {}).status_code == 200
    assert_not_found(bob.post(f"{API}/rooms/{room_id}/report/{event_id}", {"reason": "x"}))


@pytest.mark.parametrize("body", [{"reason": 5}, {"reason": ["a"]}, {"reason": True}])
def test_report_reason_must_be_a_string(alice, bob, body):
    room_id, event_id = _room_with_message(alice, bob)
    assert_error(bob.post(f"{API}/rooms/{room_id}/report/{event_id}", body), 400, "M_BAD_JSON")
    assert_error(bob.post(f"{API}/rooms/{room_id}/report", body), 400, "M_BAD_JSON")
    assert_error(bob.post(f"{API}/users/{alice.user_id}/report", body), 400, "M_BAD_JSON")


def test_report_reason_length_cap(alice, bob):
    room_id, event_id = _room_with_message(alice, bob)
    long = "x" * (MAX_REASON_LENGTH + 1)
    assert_error(bob.post(f"{API}/rooms/{room_id}/report/{event_id}", {"reason": long}), 400, "M_INVALID_PARAM")
    assert bob.post(f"{API}/rooms/{room_id}/report/{event_id}",
                    {"reason": "x" * MAX_REASON_LENGTH}).status_code == 200


def test_report_requires_auth_and_json(alice, bob):
    room_id, event_id = _room_with_message(alice, bob)
    assert_error(bob.post(f"{API}/rooms/{room_id}/report/{event_id}", {"reason": "x"}, token=None),
                 401, "M_MISSING_TOKEN")
    assert_error(bob.post(f"{API}/rooms/{room_id}/report", {"reason": "x"}, token=None), 401, "M_MISSING_TOKEN")
    assert_error(bob.post(f"{API}/users/{alice.user_id}/report", {"reason": "x"}, token=None),
                 401, "M_MISSING_TOKEN")
    assert_error(bob.request("POST", f"{API}/rooms/{room_id}/report", raw=b"{nope"), 400, "M_NOT_JSON")


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


def assert_not_found(resp):
    assert resp.status_code == 404, (resp.status_code, resp.json_body)
    assert resp.json_body["errcode"] == "M_NOT_FOUND"
