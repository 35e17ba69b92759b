"""HTTP side of server administration through the client-server API: /admin/whois, /admin/lock,
/admin/suspend (apps.accounts.moderation)."""
from __future__ import annotations

from apps.core.http import Endpoint, field, json_body

from . import moderation
from .auth import authenticate


class GetWhoIsView(Endpoint):
    """GET /_matrix/client/v3/admin/whois/{userId}"""

    operation_id = "getWhoIs"

    def handle(self, request, user_id: str, **kwargs):
        return moderation.whois(authenticate(request), user_id)


class _FlagView(Endpoint):
    flag = ""

    def handle(self, request, user_id: str, **kwargs):
        requester = authenticate(request)
        if request.method == "GET":
            return moderation.get_flag(requester, user_id, self.flag)
        body = json_body(request)
        return moderation.set_flag(requester, user_id, self.flag, field(body, self.flag, bool, required=True))


class GetAdminLockUserView(_FlagView):
    """GET /_matrix/client/v1/admin/lock/{userId}"""

    operation_id = "getAdminLockUser"
    flag = "locked"


class SetAdminLockUserView(_FlagView):
    """PUT /_matrix/client/v1/admin/lock/{userId}"""

    operation_id = "setAdminLockUser"
    flag = "locked"


class GetAdminSuspendUserView(_FlagView):
    """GET /_matrix/client/v1/admin/suspend/{userId}"""

    operation_id = "getAdminSuspendUser"
    flag = "suspended"


class SetAdminSuspendUserView(_FlagView):
    """PUT /_matrix/client/v1/admin/suspend/{userId}"""

    operation_id = "setAdminSuspendUser"
    flag = "suspended"
