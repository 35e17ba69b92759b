"""HTTP endpoint of mutual rooms (rules in handlers.py): getMutualRooms."""
from __future__ import annotations

from apps.accounts.auth import authenticate
from apps.core.http import Endpoint

from . import handlers


class GetMutualRoomsView(Endpoint):
    """GET /_matrix/client/v1/mutual_rooms?user_id=&from="""

    operation_id = "getMutualRooms"

    def handle(self, request, **kwargs):
        requester = authenticate(request)
        return handlers.mutual_rooms(requester.user_id, request.GET.get("user_id"), request.GET.get("from"))
