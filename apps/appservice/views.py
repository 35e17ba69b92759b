"""Client-server endpoints only application services may call (spec: application-service API,
"Client-Server API Extensions").

# POST /_matrix/client/v1/appservice/{appserviceId}/ping                pingAppservice
# PUT  /_matrix/client/v3/directory/list/appservice/{networkId}/{roomId}  updateAppserviceRoomDirectoryVisibility
"""
from __future__ import annotations

from apps.accounts.auth import authenticate
from apps.core.errors import Codes, MatrixError
from apps.core.http import Endpoint, field, json_body

from . import handlers


class PingAppserviceView(Endpoint):
    operation_id = "pingAppservice"

    def handle(self, request, appservice_id: str, **kwargs):
        requester = authenticate(request)
        body = json_body(request, required=False)
        return handlers.ping(requester, appservice_id, field(body, "transaction_id", str))


class UpdateAppserviceRoomDirectoryVisibilityView(Endpoint):
    operation_id = "updateAppserviceRoomDirectoryVisibility"

    def handle(self, request, network_id: str, room_id: str, **kwargs):
        requester = authenticate(request)
        body = json_body(request)
        visibility = field(body, "visibility", str, required=True)
        if not room_id.startswith("!"):
            raise MatrixError(Codes.INVALID_PARAM, f"Invalid room ID: {room_id!r}", 400)
        handlers.set_room_listed(requester, network_id, room_id, visibility)
        return {}
