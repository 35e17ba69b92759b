"""Client-server endpoints of account data and room tags: authenticate, read the body, call one handler."""
from __future__ import annotations

from apps.accounts.auth import authenticate
from apps.core.http import Endpoint, json_body

from . import handlers


class SetAccountDataView(Endpoint):
    """PUT /_matrix/client/v3/user/{userId}/account_data/{type}"""

    operation_id = "setAccountData"

    def handle(self, request, user_id, data_type, **kwargs):
        requester = authenticate(request)
        handlers.set_account_data(requester, user_id, data_type, json_body(request))
        return {}


class GetAccountDataView(Endpoint):
    """GET /_matrix/client/v3/user/{userId}/account_data/{type}"""

    operation_id = "getAccountData"

    def handle(self, request, user_id, data_type, **kwargs):
        requester = authenticate(request)
        return handlers.get_account_data(requester, user_id, data_type)


class SetAccountDataPerRoomView(Endpoint):
    """PUT /_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type}"""

    operation_id = "setAccountDataPerRoom"

    def handle(self, request, user_id, room_id, data_type, **kwargs):
        requester = authenticate(request)
        handlers.set_account_data(requester, user_id, data_type, json_body(request), room_id=room_id)
        return {}


class GetAccountDataPerRoomView(Endpoint):
    """GET /_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type}"""

    operation_id = "getAccountDataPerRoom"

    def handle(self, request, user_id, room_id, data_type, **kwargs):
        requester = authenticate(request)
        return handlers.get_account_data(requester, user_id, data_type, room_id=room_id)


class GetRoomTagsView(Endpoint):
    """GET /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags"""

    operation_id = "getRoomTags"

    def handle(self, request, user_id, room_id, **kwargs):
        requester = authenticate(request)
        return handlers.get_tags(requester, user_id, room_id)


class SetRoomTagView(Endpoint):
    """PUT /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag}"""

    operation_id = "setRoomTag"

    def handle(self, request, user_id, room_id, tag, **kwargs):
        requester = authenticate(request)
        handlers.set_tag(requester, user_id, room_id, tag, json_body(request))
        return {}


class DeleteRoomTagView(Endpoint):
    """DELETE /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag}"""

    operation_id = "deleteRoomTag"

    def handle(self, request, user_id, room_id, tag, **kwargs):
        requester = authenticate(request)
        handlers.delete_tag(requester, user_id, room_id, tag)
        return {}
