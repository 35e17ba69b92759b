"""Client-server endpoints of rooms: creation, sending, state, single events and membership.

One class per spec `operationId`: authenticate, read the body, call one function of `handlers`,
shape the response.
"""
from __future__ import annotations

import json

from django.http import HttpResponse

from apps.accounts.auth import authenticate
from apps.core.errors import Codes, MatrixError
from apps.core.http import Endpoint, field, json_body
from apps.delayed_events.views import DELAY_PARAM, schedule_delayed

from . import handlers


def _room_id(raw: str) -> str:
    if not raw.startswith("!"):
        raise MatrixError(Codes.INVALID_PARAM, f"Invalid room ID: {raw!r}", 400)
    return raw


class CreateRoomView(Endpoint):
    """POST /_matrix/client/v3/createRoom"""

    operation_id = "createRoom"

    def handle(self, request, **kwargs):
        requester = authenticate(request)
        body = json_body(request)
        room_id = handlers.create_room(
            requester,
            visibility=field(body, "visibility", str, default="private"),
            preset_name=field(body, "preset", str),
            room_version=field(body, "room_version", str),
            creation_content=field(body, "creation_content", dict),
            initial_state=field(body, "initial_state", list),
            name=field(body, "name", str),
            topic=field(body, "topic", str),
            invite=field(body, "invite", list),
            is_direct=field(body, "is_direct", bool, default=False),
            power_level_content_override=field(body, "power_level_content_override", dict),
            room_alias_name=field(body, "room_alias_name", str),
        )
        return {"room_id": room_id}


class SendMessageView(Endpoint):
    """PUT /_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}"""

    operation_id = "sendMessage"

    def handle(self, request, room_id, event_type, txn_id, **kwargs):
        requester = authenticate(request)
        content = json_body(request)
        if DELAY_PARAM in request.GET:  # MSC4140: scheduled, sent later (apps.delayed_events)
            return schedule_delayed(request, requester, _room_id(room_id), event_type, content, txn_id=txn_id)
        return {"event_id": handlers.send_event(requester, _room_id(room_id), event_type, content, txn_id)}


class RoomStateWithKeyView(Endpoint):
    """GET /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}"""

    operation_id = "getRoomStateWithKey"

    def handle(self, request, room_id, event_type, state_key=None, **kwargs):
        requester = authenticate(request)
        return handlers.get_state_event(requester, _room_id(room_id), event_type, state_key or "",
                                        request.GET.get("format", "content"))


class SetRoomStateWithKeyView(Endpoint):
    """PUT /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}"""

    operation_id = "setRoomStateWithKey"

    def handle(self, request, room_id, event_type, state_key=None, **kwargs):
        requester = authenticate(request)
        content = json_body(request)
        if DELAY_PARAM in request.GET:  # MSC4140: scheduled, sent later (apps.delayed_events)
            return schedule_delayed(request, requester, _room_id(room_id), event_type, content,
                                    state_key=state_key or "")
        return {"event_id": handlers.set_state(requester, _room_id(room_id), event_type, state_key or "", content)}


class GetRoomStateView(Endpoint):
    """GET /_matrix/client/v3/rooms/{roomId}/state"""

    operation_id = "getRoomState"

    def handle(self, request, room_id, **kwargs):
        requester = authenticate(request)
        # A JSON array: as_response() only renders objects.
        body = json.dumps(handlers.get_state(requester, _room_id(room_id)), ensure_ascii=False, separators=(",", ":"))
        return HttpResponse(body, content_type="application/json")


class GetOneRoomEventView(Endpoint):
    """GET /_matrix/client/v3/rooms/{roomId}/event/{eventId}"""

    operation_id = "getOneRoomEvent"

    def handle(self, request, room_id, event_id, **kwargs):
        requester = authenticate(request)
        return handlers.get_event(requester, _room_id(room_id), event_id)


class JoinRoomByIdView(Endpoint):
    """POST /_matrix/client/v3/rooms/{roomId}/join"""

    operation_id = "joinRoomById"

    def handle(self, request, room_id, **kwargs):
        requester = authenticate(request)
        json_body(request, required=False)
        return {"room_id": handlers.join_room(requester, _room_id(room_id))}


class JoinRoomView(Endpoint):
    """POST /_matrix/client/v3/join/{roomIdOrAlias}"""

    operation_id = "joinRoom"

    def handle(self, request, room_id_or_alias, **kwargs):
        requester = authenticate(request)
        json_body(request, required=False)
        if not room_id_or_alias.startswith(("!", "#")):
            raise MatrixError(Codes.INVALID_PARAM, f"Invalid room ID or alias: {room_id_or_alias!r}", 400)
        # Spec (joinRoom): `via` (v1.12), and the deprecated `server_name`, name servers to join through.
        servers = request.GET.getlist("via") + request.GET.getlist("server_name")
        return {"room_id": handlers.join_room(requester, room_id_or_alias, servers)}


class InviteUserView(Endpoint):
    """POST /_matrix/client/v3/rooms/{roomId}/invite"""

    operation_id = "inviteUser"

    def handle(self, request, room_id, **kwargs):
        requester = authenticate(request)
        body = json_body(request)
        handlers.invite_user(requester, _room_id(room_id), field(body, "user_id", str, required=True),
                             field(body, "reason", str))
        return {}


class LeaveRoomView(Endpoint):
    """POST /_matrix/client/v3/rooms/{roomId}/leave"""

    operation_id = "leaveRoom"

    def handle(self, request, room_id, **kwargs):
        requester = authenticate(request)
        body = json_body(request, required=False)
        handlers.leave_room(requester, _room_id(room_id), field(body, "reason", str))
        return {}


class GetJoinedRoomsView(Endpoint):
    """GET /_matrix/client/v3/joined_rooms"""

    operation_id = "getJoinedRooms"

    def handle(self, request, **kwargs):
        requester = authenticate(request)
        return {"joined_rooms": handlers.joined_rooms(requester)}
