"""Client-server endpoint of server-side search (rules in handlers.py): search."""
from __future__ import annotations

from apps.accounts.auth import authenticate
from apps.core.http import Endpoint, json_body

from . import handlers


class SearchView(Endpoint):
    """POST /_matrix/client/v3/search"""

    operation_id = "search"

    def handle(self, request, **kwargs):
        requester = authenticate(request)
        body = json_body(request)
        return handlers.search(requester, body, request.GET.get("next_batch"))
