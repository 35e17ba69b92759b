"""Client-server endpoint of the user directory."""
from __future__ import annotations

from apps.accounts.auth import authenticate
from apps.core.http import Endpoint, json_body

from . import handlers


class SearchUserDirectoryView(Endpoint):
    """POST /_matrix/client/v3/user_directory/search"""

    operation_id = "searchUserDirectory"

    def handle(self, request, **kwargs):
        requester = authenticate(request)
        body = json_body(request)
        return handlers.search(requester, body.get("search_term"), body.get("limit"))
