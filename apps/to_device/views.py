"""Client-server endpoint of send-to-device messaging."""
from __future__ import annotations

from apps.accounts.auth import authenticate
from apps.core.http import Endpoint, field, json_body

from . import handlers


class SendToDeviceView(Endpoint):
    """PUT /_matrix/client/v3/sendToDevice/{eventType}/{txnId}"""

    operation_id = "sendToDevice"

    def handle(self, request, event_type, txn_id, **kwargs):
        # Spec, "Guest access": guests may send to-device messages.
        requester = authenticate(request, allow_guest=True)
        body = json_body(request)
        handlers.send_to_device(requester, event_type, txn_id, field(body, "messages", dict, required=True))
        return {}
