"""Client-server endpoints of receipts and read markers (one class per spec operationId)."""
from __future__ import annotations

from apps.accounts.auth import authenticate
from apps.core.errors import Codes, MatrixError
from apps.core.http import Endpoint, json_body

from . import handlers


def _room_id(raw: str) -> str:
    if not raw.startswith("!"):
        raise MatrixError(Codes.INVALID_PARAM, f"Invalid room ID: {raw!r}", 400)
    return raw


class PostReceiptView(Endpoint):
    """POST /_matrix/client/v3/rooms/{roomId}/receipt/{receiptType}/{eventId}"""

    operation_id = "postReceipt"

    def handle(self, request, room_id, receipt_type, event_id, **kwargs):
        requester = authenticate(request)
        # Older clients send no body at all; an empty body is an unthreaded receipt.
        body = json_body(request, required=False)
        handlers.post_receipt(requester, _room_id(room_id), receipt_type, event_id, body)
        return {}


class SetReadMarkerView(Endpoint):
    """POST /_matrix/client/v3/rooms/{roomId}/read_markers"""

    operation_id = "setReadMarker"

    def handle(self, request, room_id, **kwargs):
        requester = authenticate(request)
        handlers.set_read_markers(requester, _room_id(room_id), json_body(request))
        return {}
