"""HTTP endpoints of reporting content: reportEvent, reportRoom, reportUser."""
from __future__ import annotations

from apps.accounts.auth import authenticate
from apps.core.http import Endpoint, json_body

from . import handlers


class ReportEventView(Endpoint):
    operation_id = "reportEvent"

    def handle(self, request, room_id: str, event_id: str):
        requester = authenticate(request)
        handlers.report_event(requester.user_id, room_id, event_id, json_body(request))
        return {}


class ReportRoomView(Endpoint):
    operation_id = "reportRoom"

    def handle(self, request, room_id: str):
        requester = authenticate(request)
        handlers.report_room(requester.user_id, room_id, json_body(request))
        return {}


class ReportUserView(Endpoint):
    operation_id = "reportUser"

    def handle(self, request, user_id: str):
        requester = authenticate(request)
        handlers.report_user(requester.user_id, user_id, json_body(request))
        return {}
