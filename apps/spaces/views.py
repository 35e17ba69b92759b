"""Endpoints of spaces (rules in handlers.py): the client-server getSpaceHierarchy and getRoomSummary,
and the server-server getSpaceHierarchy (X-Matrix signed)."""
from __future__ import annotations

from apps.accounts.auth import authenticate, optional_requester
from apps.core.errors import Codes, MatrixError
from apps.core.http import Endpoint, query_bool, query_int
from apps.federation.transport_auth import FederationEndpoint

from . import handlers


class GetSpaceHierarchyView(Endpoint):
    """GET /_matrix/client/v1/rooms/{roomId}/hierarchy"""

    operation_id = "getSpaceHierarchy"

    def handle(self, request, room_id, **kwargs):
        requester = authenticate(request)
        if not room_id.startswith("!"):
            raise MatrixError(Codes.INVALID_PARAM, f"Invalid room ID: {room_id!r}", 400)
        return handlers.hierarchy(
            requester, room_id, suggested_only=query_bool(request, "suggested_only"),
            max_depth=query_int(request, "max_depth", minimum=0), limit=query_int(request, "limit", minimum=1),
            from_token=request.GET.get("from"))


class GetRoomSummaryView(Endpoint):
    """GET /_matrix/client/v1/room_summary/{roomIdOrAlias}"""

    operation_id = "getRoomSummary"

    def handle(self, request, room_id_or_alias, **kwargs):
        requester = optional_requester(request)
        if not room_id_or_alias.startswith(("!", "#")):
            raise MatrixError(Codes.INVALID_PARAM, f"Invalid room ID or alias: {room_id_or_alias!r}", 400)
        return handlers.room_summary(requester, room_id_or_alias)


class GetFederationSpaceHierarchyView(FederationEndpoint):
    """GET /_matrix/federation/v1/hierarchy/{roomId}?suggested_only="""

    operation_id = "getSpaceHierarchy"

    def handle_federation(self, request, origin, room_id, **kwargs):
        if not room_id.startswith("!"):
            raise MatrixError(Codes.INVALID_PARAM, f"Invalid room ID: {room_id!r}", 400)
        return handlers.federation_hierarchy(origin, room_id, suggested_only=query_bool(request, "suggested_only"))
