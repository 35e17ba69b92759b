"""GET /_matrix/federation/v1/query/{queryType} (spec operation queryInfo: "Querying for information").

The spec defines the generic form and, as its extensions, the known query types as operations of
their own (`directory`, `profile`), whose rows come first in the routing table. This row answers the
rest: a known type is served by its own view all the same (so the row order is not load-bearing), any
other type is an endpoint this server does not have, 404 M_UNRECOGNIZED, once the request's signature
is checked (an unsigned request learns nothing, 401)."""
from __future__ import annotations

from apps.core.errors import Codes, MatrixError

from . import views_rooms
from .transport_auth import FederationEndpoint

QUERY_TYPES = {
    "directory": views_rooms.QueryRoomDirectoryView,
    "profile": views_rooms.QueryProfileView,
}


class QueryInfoView(FederationEndpoint):
    """GET /_matrix/federation/v1/query/{queryType}"""

    operation_id = "queryInfo"

    def handle_federation(self, request, origin, query_type, **kwargs):
        view = QUERY_TYPES.get(query_type)
        if view is None:
            raise MatrixError(Codes.UNRECOGNIZED, f"Unknown query type: {query_type!r}", 404)
        return view().handle_federation(request, origin, **kwargs)
