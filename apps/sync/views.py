"""Client-server endpoints of sync: `GET /sync` (async: an idle long-poll costs a future, not a thread)
and the filter endpoints.

One class per spec `operationId`. `SyncView.handle` is a coroutine: the routing table serves it as an
async Django view; its database work runs in the shared thread pool (`handlers.db_call`).
"""
from __future__ import annotations

from apps.accounts.auth import authenticate
from apps.core.errors import Codes, MatrixError
from apps.core.http import Endpoint, json_body, query_bool, query_int
from apps.streams.tokens import StreamToken

from . import handlers, sections

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
