"""Client-server endpoints of room history and redaction (handlers in apps/rooms/timeline.py and
apps/rooms/redactions.py): getRoomEvents, getEventContext, getEventByTimestamp, redactEvent."""
from __future__ import annotations

from apps.accounts.auth import authenticate
from apps.core.errors import Codes, MatrixError
from apps.core.http import Endpoint, field, json_body, query_int

from . import redactions, timeline
from .filters import parse_filter_param
from .pagination import parse_direction
from .views import _room_id


def _event_id(raw: str) -> str:
    if not raw.startswith("$"):
        raise MatrixError(Codes.INVALID_PARAM, f"Invalid event ID: {raw!r}", 400)
    return raw


class GetRoomEventsView(Endpoint):
    """GET /_matrix/client/v3/rooms/{roomId}/messages"""

    operation_id = "getRoomEvents"

    def handle(self, request, room_id, **kwargs):
        requester = authenticate(request)
        room_id = _room_id(room_id)
        direction = parse_direction(request.GET.get("dir"))
        limit = query_int(request, "limit")
        filt = parse_filter_param(request.GET.get("filter"))
        return timeline.get_messages(requester, room_id, direction=direction, from_token=request.GET.get("from"),
                                     to_token=request.GET.get("to"), limit=limit, filt=filt)


class GetEventContextView(Endpoint):
    """GET /_matrix/client/v3/rooms/{roomId}/context/{eventId}"""

    operation_id = "getEventContext"

    def handle(self, request, room_id, event_id, **kwargs):
        requester = authenticate(request)
        room_id, event_id = _room_id(room_id), _event_id(event_id)
        limit = query_int(request, "limit")
        filt = parse_filter_param(request.GET.get("filter"))
        return timeline.get_context(requester, room_id, event_id, limit=limit, filt=filt)


class GetEventByTimestampView(Endpoint):
    """GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event"""

    operation_id = "getEventByTimestamp"

    def handle(self, request, room_id, **kwargs):
        requester = authenticate(request)
        room_id = _room_id(room_id)
        if request.GET.get("ts") is None:
            raise MatrixError(Codes.MISSING_PARAM, "Missing parameter: ts", 400)
        ts = query_int(request, "ts")
        direction = parse_direction(request.GET.get("dir"))
        return timeline.timestamp_to_event(requester, room_id, ts, direction)


class RedactEventView(Endpoint):
    """PUT /_matrix/client/v3/rooms/{roomId}/redact/{eventId}/{txnId}"""

    operation_id = "redactEvent"

    def handle(self, request, room_id, event_id, txn_id, **kwargs):
        requester = authenticate(request)
        room_id, event_id = _room_id(room_id), _event_id(event_id)
        body = json_body(request, required=False)
        reason = field(body, "reason", str)
        return {"event_id": redactions.redact_event(requester, room_id, event_id, txn_id, reason)}
