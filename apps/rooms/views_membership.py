"""Client-server endpoints of membership: kick, ban, unban, knock, forget, and the members lists.

One class per spec `operationId`: authenticate, read the body, call one function of `membership`,
shape the response.
"""
from __future__ import annotations

from apps.accounts.auth import authenticate
from apps.core.errors import Codes, MatrixError
from apps.core.http import Endpoint, field, json_body

from . import membership
from .views import _room_id


def _target_and_reason(request) -> tuple[str, str | None]:
    body = json_body(request)
    return field(body, "user_id", str, required=True), field(body, "reason", str)


class KickView(Endpoint):
    """POST /_matrix/client/v3/rooms/{roomId}/kick"""

    operation_id = "kick"

    def handle(self, request, room_id, **kwargs):
        requester = authenticate(request)
        user_id, reason = _target_and_reason(request)
        membership.kick(requester, _room_id(room_id), user_id, reason)
        return {}


class BanView(Endpoint):
    """POST /_matrix/client/v3/rooms/{roomId}/ban"""

    operation_id = "ban"

    def handle(self, request, room_id, **kwargs):
        requester = authenticate(request)
        user_id, reason = _target_and_reason(request)
        membership.ban(requester, _room_id(room_id), user_id, reason)
        return {}


class UnbanView(Endpoint):
    """POST /_matrix/client/v3/rooms/{roomId}/unban"""

    operation_id = "unban"

    def handle(self, request, room_id, **kwargs):
        requester = authenticate(request)
        user_id, reason = _target_and_reason(request)
        membership.unban(requester, _room_id(room_id), user_id, reason)
        return {}


class KnockRoomView(Endpoint):
    """POST /_matrix/client/v3/knock/{roomIdOrAlias}"""

    operation_id = "knockRoom"

    def handle(self, request, room_id_or_alias, **kwargs):
        requester = authenticate(request)
        body = json_body(request, required=False)
        if not room_id_or_alias.startswith(("!", "#")):
            raise MatrixError(Codes.INVALID_PARAM, f"Invalid room ID or alias: {room_id_or_alias!r}", 400)
        # Spec (knockRoom): `via` (v1.12), and the deprecated `server_name`, name servers to knock through.
        servers = request.GET.getlist("via") + request.GET.getlist("server_name")
        return {"room_id": membership.knock(requester, room_id_or_alias, field(body, "reason", str), servers)}


class ForgetRoomView(Endpoint):
    """POST /_matrix/client/v3/rooms/{roomId}/forget"""

    operation_id = "forgetRoom"

    def handle(self, request, room_id, **kwargs):
        requester = authenticate(request)
        json_body(request, required=False)
        membership.forget(requester, _room_id(room_id))
        return {}


class GetMembersByRoomView(Endpoint):
    """GET /_matrix/client/v3/rooms/{roomId}/members"""

    operation_id = "getMembersByRoom"

    def handle(self, request, room_id, **kwargs):
        requester = authenticate(request)
        chunk = membership.get_members(requester, _room_id(room_id), at=request.GET.get("at"),
                                       membership=request.GET.get("membership"),
                                       not_membership=request.GET.get("not_membership"))
        return {"chunk": chunk}


class GetJoinedMembersByRoomView(Endpoint):
    """GET /_matrix/client/v3/rooms/{roomId}/joined_members"""

    operation_id = "getJoinedMembersByRoom"

    def handle(self, request, room_id, **kwargs):
        requester = authenticate(request)
        return {"joined": membership.get_joined_members(requester, _room_id(room_id))}
