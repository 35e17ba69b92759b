"""Client-server endpoints only application services may call (spec: application-service API,
"Client-Server API Extensions").

# POST /_matrix/client/v1/appservice/{appserviceId}/ping                pingAppservice
# PUT  /_matrix/client/v3/directory/list/appservice/{networkId}/{roomId}  updateAppserviceRoomDirectoryVisibility
# GET  /_matrix/client/v3/thirdparty/...                                 third-party networks (see thirdparty.py)
"""
from __future__ import annotations

from django.http import JsonResponse

from apps.accounts.auth import authenticate
from apps.core.errors import Codes, MatrixError
from apps.core.http import Endpoint, field, json_body

from . import handlers, thirdparty


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


# --- third-party networks (apps.appservice.thirdparty) ------------------------------------------------------

def _list(items: list) -> JsonResponse:
    # These answers are JSON arrays, which the common response path (objects only) does not render.
    return JsonResponse(items, safe=False, json_dumps_params={"ensure_ascii": False, "separators": (",", ":")})


def _fields(request) -> dict[str, str]:
    # Every query parameter but the token is a protocol field for the service.
    return {k: v for k, v in request.GET.items() if k != "access_token"}


class GetProtocolsView(Endpoint):
    operation_id = "getProtocols"

    def handle(self, request, **kwargs):
        authenticate(request)
        return thirdparty.protocols()


class GetProtocolMetadataView(Endpoint):
    operation_id = "getProtocolMetadata"

    def handle(self, request, protocol: str, **kwargs):
        authenticate(request)
        return thirdparty.protocol(protocol)


class QueryLocationByProtocolView(Endpoint):
    operation_id = "queryLocationByProtocol"

    def handle(self, request, protocol: str, **kwargs):
        authenticate(request)
        return _list(thirdparty.locations_by_protocol(protocol, _fields(request)))


class QueryUserByProtocolView(Endpoint):
    operation_id = "queryUserByProtocol"

    def handle(self, request, protocol: str, **kwargs):
        authenticate(request)
        return _list(thirdparty.users_by_protocol(protocol, _fields(request)))


class QueryLocationByAliasView(Endpoint):
    operation_id = "queryLocationByAlias"

    def handle(self, request, **kwargs):
        authenticate(request)
        alias = request.GET.get("alias")
        if not alias:
            raise MatrixError(Codes.MISSING_PARAM, "Missing parameter: alias", 400)
        return _list(thirdparty.locations_by_alias(alias))


class QueryUserByIDView(Endpoint):
    operation_id = "queryUserByID"

    def handle(self, request, **kwargs):
        authenticate(request)
        user_id = request.GET.get("userid")
        if not user_id:
            raise MatrixError(Codes.MISSING_PARAM, "Missing parameter: userid", 400)
        return _list(thirdparty.users_by_id(user_id))
