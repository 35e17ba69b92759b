"""Client-server endpoint of typing notifications: `PUT /rooms/{roomId}/typing/{userId}` (setTyping)."""
from __future__ import annotations

from apps.accounts.auth import authenticate
from apps.core.errors import Codes, MatrixError
from apps.core.http import Endpoint, field, json_body

from . import handlers


class SetTypingView(Endpoint):
    """PUT /_matrix/client/v3/rooms/{roomId}/typing/{userId}"""

    operation_id = "setTyping"

    def handle(self, request, room_id, user_id, **kwargs):
        requester = authenticate(request)
        body = json_body(request)
        typing = field(body, "typing", bool, required=True)
        timeout = field(body, "timeout", int)
        if timeout is not None and timeout < 0:
            raise MatrixError(Codes.BAD_JSON, "timeout must be a non-negative integer", 400)
        handlers.set_typing(requester, room_id, user_id, typing, timeout if typing else None)
        return {}
