"""Client-server endpoints of event relationships and threads (rules in handlers.py):
getRelatingEvents, getRelatingEventsWithRelType, getRelatingEventsWithRelTypeAndEventType, getThreadRoots."""
from __future__ import annotations

from apps.accounts.auth import authenticate
from apps.core.errors import Codes, MatrixError
from apps.core.http import Endpoint, query_bool, query_int

from . import handlers


def _room_id(raw: str) -> str:
    if not raw.startswith("!"):
        raise MatrixError(Codes.INVALID_PARAM, f"Invalid room ID: {raw!r}", 400)
    return raw


def _event_id(raw: str) -> str:
    if not raw.startswith("$"):
        raise MatrixError(Codes.INVALID_PARAM, f"Invalid event ID: {raw!r}", 400)
    return raw


class GetRelatingEventsView(Endpoint):
    """GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}"""

    operation_id = "getRelatingEvents"

    def handle(self, request, room_id, event_id, rel_type=None, event_type=None, **kwargs):
        requester = authenticate(request)
        direction = request.GET.get("dir", "b")
        if direction not in ("b", "f"):
            raise MatrixError(Codes.INVALID_PARAM, "dir must be 'b' or 'f'", 400)
        recurse = query_bool(request, "recurse") if request.GET.get("recurse") is not None else None
        return handlers.get_relations(
            requester, _room_id(room_id), _event_id(event_id), rel_type=rel_type, event_type=event_type,
            from_token=request.GET.get("from"), to_token=request.GET.get("to"),
            limit=query_int(request, "limit", minimum=1), direction=direction, recurse=recurse)


class GetRelatingEventsWithRelTypeView(GetRelatingEventsView):
    """GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}/{relType}"""

    operation_id = "getRelatingEventsWithRelType"


class GetRelatingEventsWithRelTypeAndEventTypeView(GetRelatingEventsView):
    """GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}/{relType}/{eventType}"""

    operation_id = "getRelatingEventsWithRelTypeAndEventType"


class GetThreadRootsView(Endpoint):
    """GET /_matrix/client/v1/rooms/{roomId}/threads"""

    operation_id = "getThreadRoots"

    def handle(self, request, room_id, **kwargs):
        requester = authenticate(request)
        include = request.GET.get("include", "all")
        if include not in ("all", "participated"):
            raise MatrixError(Codes.INVALID_PARAM, "include must be 'all' or 'participated'", 400)
        return handlers.get_threads(requester, _room_id(room_id), include=include,
                                    from_token=request.GET.get("from"),
                                    limit=query_int(request, "limit", minimum=1))
