"""HTTP endpoints of delayed events (MSC4140, unstable prefix): the listing and the management actions,
and `schedule_delayed`, which the rooms app's PUT /send and PUT /state call when the request carries
`org.matrix.msc4140.delay`."""
from __future__ import annotations

from apps.accounts.auth import authenticate
from apps.core.errors import Codes, MatrixError
from apps.core.http import Endpoint, json_body

from . import handlers
from .handlers import DELAY_PARAM

__all__ = ["DELAY_PARAM", "schedule_delayed", "GetDelayedEventsView", "UpdateDelayedEventView"]


def schedule_delayed(request, requester, room_id: str, event_type: str, content: dict, *,
                     state_key: str | None = None, txn_id: str | None = None) -> dict:
    """PUT /rooms/{roomId}/send/{eventType}/{txnId}?org.matrix.msc4140.delay=<ms> and
    PUT /rooms/{roomId}/state/{eventType}/{stateKey}?org.matrix.msc4140.delay=<ms>: `{"delay_id"}` instead
    of `{"event_id"}`."""
    delay_ms = handlers.parse_delay(request.GET.get(DELAY_PARAM))
    return {"delay_id": handlers.schedule(requester, room_id, event_type, content, delay_ms=delay_ms,
                                          state_key=state_key, txn_id=txn_id)}


class GetDelayedEventsView(Endpoint):
    """GET /_matrix/client/unstable/org.matrix.msc4140/delayed_events"""

    operation_id = "msc4140_get_delayed_events"

    def handle(self, request, **kwargs):
        requester = authenticate(request)
        return {"delayed_events": handlers.pending_for_user(requester.user_id)}


class UpdateDelayedEventView(Endpoint):
    """POST /_matrix/client/unstable/org.matrix.msc4140/delayed_events/{delayId}"""

    operation_id = "msc4140_update_delayed_event"

    def handle(self, request, delay_id: str, **kwargs):
        requester = authenticate(request)
        action = json_body(request).get("action")
        if action is None:
            raise MatrixError(Codes.MISSING_PARAM, "'action' is missing", 400)
        handlers.update(requester.user_id, delay_id, action if isinstance(action, str) else str(action))
        return {}
