"""Client-server endpoints of sync: `GET /sync` (async: an idle long-poll costs a future, not a thread),
the filter endpoints, and the deprecated `/events` (async too), `/initialSync`, `/rooms/{roomId}/initialSync`
and `/events/{eventId}` (`legacy.py`).

One class per spec `operationId`. `SyncView.handle` is a coroutine: the routing table serves it as an
async Django view; its database work runs in the shared thread pool (`handlers.db_call`).
"""
from __future__ import annotations

from apps.accounts.auth import authenticate
from apps.core.errors import Codes, MatrixError
from apps.core.http import Endpoint, json_body, query_bool, query_int
from apps.streams.tokens import StreamToken

from . import handlers, legacy, sections

PRESENCE_STATES = ("offline", "online", "unavailable")
# A long-poll never lasts longer than this, whatever the client asks (milliseconds).
MAX_TIMEOUT_MS = 10 * 60 * 1000


class SyncView(Endpoint):
    """GET /_matrix/client/v3/sync"""

    operation_id = "sync"

    async def handle(self, request, **kwargs):
        requester, params, timeout = await handlers.db_call(_sync_request)(request)
        return await handlers.sync_and_wait(requester, params, timeout)


def _sync_request(request):
    requester = authenticate(request)
    timeout = min(query_int(request, "timeout", 0), MAX_TIMEOUT_MS)
    full_state = query_bool(request, "full_state", False)
    set_presence = request.GET.get("set_presence", "online")
    if set_presence not in PRESENCE_STATES:
        raise MatrixError(Codes.INVALID_PARAM, f"set_presence must be one of {', '.join(PRESENCE_STATES)}", 400)
    raw_since = request.GET.get("since")
    since = StreamToken.parse(raw_since) if raw_since else None
    sync_filter = handlers.resolve_sync_filter(requester, request.GET.get("filter"))
    params = handlers.SyncParams(filter=sync_filter, since=since, full_state=full_state, set_presence=set_presence)
    for hook in sections.request_hooks():
        hook(requester, params)
    return requester, params, timeout


class DefineFilterView(Endpoint):
    """POST /_matrix/client/v3/user/{userId}/filter"""

    operation_id = "defineFilter"

    def handle(self, request, user_id, **kwargs):
        requester = authenticate(request)
        return {"filter_id": handlers.define_filter(requester, user_id, json_body(request))}


class GetFilterView(Endpoint):
    """GET /_matrix/client/v3/user/{userId}/filter/{filterId}"""

    operation_id = "getFilter"

    def handle(self, request, user_id, filter_id, **kwargs):
        requester = authenticate(request)
        return handlers.get_filter(requester, user_id, filter_id)


# --- deprecated endpoints (legacy.py) --------------------------------------------------------------------

class GetEventsView(Endpoint):
    """GET /_matrix/client/v3/events (with `room_id`: the spec's peekEvents, same path and method)"""

    operation_id = "getEvents"

    async def handle(self, request, **kwargs):
        requester, query, timeout = await handlers.db_call(_events_request)(request)
        return await legacy.events_and_wait(requester, query, timeout)


def _events_request(request):
    requester = authenticate(request)
    timeout = min(query_int(request, "timeout", 0), MAX_TIMEOUT_MS)
    raw_from = request.GET.get("from")
    since = StreamToken.parse(raw_from) if raw_from else None
    room_id = request.GET.get("room_id")
    if room_id is not None and not room_id.startswith("!"):
        raise MatrixError(Codes.INVALID_PARAM, "room_id must be a room ID", 400)
    return requester, legacy.EventsQuery(since=since, room_id=room_id), timeout


class InitialSyncView(Endpoint):
    """GET /_matrix/client/v3/initialSync"""

    operation_id = "initialSync"

    def handle(self, request, **kwargs):
        from apps.streams import replication

        requester = authenticate(request)
        return legacy.initial_sync(requester, replication.get_state(), limit=query_int(request, "limit"),
                                   archived=query_bool(request, "archived", False))


class RoomInitialSyncView(Endpoint):
    """GET /_matrix/client/v3/rooms/{roomId}/initialSync"""

    operation_id = "roomInitialSync"

    def handle(self, request, room_id, **kwargs):
        from apps.streams import replication

        requester = authenticate(request)
        return legacy.room_initial_sync(requester, replication.get_state(), room_id,
                                        limit=query_int(request, "limit"))


class GetOneEventView(Endpoint):
    """GET /_matrix/client/v3/events/{eventId}"""

    operation_id = "getOneEvent"

    def handle(self, request, event_id, **kwargs):
        requester = authenticate(request)
        return legacy.get_one_event(requester, event_id)
