"""POST /rooms/{roomId}/report/{eventId} (reporting content), and checks common to every report."""
from __future__ import annotations

import pytest

from apps.reports.models import Report
from apps.reports.handlers import MAX_REASON_LENGTH
from tests.api.rooms.helpers import API, create_room, send
from tests.api.reports.helpers import room_with_message, assert_not_found
from tests.conftest import assert_error


def test_report_event_stores_a_report(alice, bob):
    room_id, event_id = room_with_message(alice, bob)
    resp = bob.post(f"{API}/rooms/{room_id}/report/{event_id}", {"reason": "spam", "score": -100})
    assert resp.status_code == 200, resp.json_body
    assert resp.json_body == {}
    report = Report.objects.get()
    assert (report.kind, report.reporter, report.room_id, report.event_id, report.reason, report.handled) == (
        "event", bob.user_id, room_id, event_id, "spam", False)


def test_report_event_reason_is_optional(alice, bob):
    room_id, event_id = room_with_message(alice, bob)
    assert bob.post(f"{API}/rooms/{room_id}/report/{event_id}", {}).status_code == 200
    assert Report.objects.get().reason == ""


def test_report_event_not_joined_is_not_found(alice, bob):
    room_id, event_id = room_with_message(alice, bob)
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
    room_id, _ = room_with_message(alice, bob)
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
    room_id, event_id = room_with_message(alice, bob)
    assert alice.put(f"{API}/rooms/{room_id}/redact/{event_id}/t1", {}).status_code == 200
    assert_not_found(bob.post(f"{API}/rooms/{room_id}/report/{event_id}", {"reason": "x"}))


@pytest.mark.parametrize("body", [{"reason": 5}, {"reason": ["a"]}, {"reason": True}])
def test_report_reason_must_be_a_string(alice, bob, body):
    room_id, event_id = room_with_message(alice, bob)
    assert_error(bob.post(f"{API}/rooms/{room_id}/report/{event_id}", body), 400, "M_BAD_JSON")
    assert_error(bob.post(f"{API}/rooms/{room_id}/report", body), 400, "M_BAD_JSON")
    assert_error(bob.post(f"{API}/users/{alice.user_id}/report", body), 400, "M_BAD_JSON")


def test_report_reason_length_cap(alice, bob):
    room_id, event_id = room_with_message(alice, bob)
    long = "x" * (MAX_REASON_LENGTH + 1)
    assert_error(bob.post(f"{API}/rooms/{room_id}/report/{event_id}", {"reason": long}), 400, "M_INVALID_PARAM")
    assert bob.post(f"{API}/rooms/{room_id}/report/{event_id}",
                    {"reason": "x" * MAX_REASON_LENGTH}).status_code == 200


def test_report_requires_auth_and_json(alice, bob):
    room_id, event_id = room_with_message(alice, bob)
    assert_error(bob.post(f"{API}/rooms/{room_id}/report/{event_id}", {"reason": "x"}, token=None),
                 401, "M_MISSING_TOKEN")
    assert_error(bob.post(f"{API}/rooms/{room_id}/report", {"reason": "x"}, token=None), 401, "M_MISSING_TOKEN")
    assert_error(bob.post(f"{API}/users/{alice.user_id}/report", {"reason": "x"}, token=None),
                 401, "M_MISSING_TOKEN")
    assert_error(bob.request("POST", f"{API}/rooms/{room_id}/report", raw=b"{nope"), 400, "M_NOT_JSON")
