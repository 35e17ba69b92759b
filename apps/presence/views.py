"""Client-server endpoints of presence: `GET`/`PUT /presence/{userId}/status` (getPresence, setPresence)."""
from __future__ import annotations

from apps.accounts.auth import authenticate
from apps.core.errors import Codes, MatrixError
from apps.core.http import Endpoint, field, json_body

from . import handlers
from .states import STATES


class PresenceStatusView(Endpoint):
    """GET /_matrix/client/v3/presence/{userId}/status"""

    operation_id = "getPresence"

    def handle(self, request, user_id, **kwargs):
        requester = authenticate(request)
        return handlers.get_presence(requester, user_id)


class SetPresenceView(Endpoint):
    """PUT /_matrix/client/v3/presence/{userId}/status"""

    operation_id = "setPresence"

    def handle(self, request, user_id, **kwargs):
        requester = authenticate(request)
        body = json_body(request)
        state = field(body, "presence", str, required=True)
        if state not in STATES:
            raise MatrixError(Codes.INVALID_PARAM, f"presence must be one of {', '.join(STATES)}", 400)
        status_msg = field(body, "status_msg", str)
        handlers.set_presence(requester, user_id, state, status_msg)
        return {}
