"""Client-server endpoints of room aliases, the published room directory and room upgrades.

One class per spec `operationId`; the rules are in `aliases`, `directory` and `upgrade`.
"""
from __future__ import annotations

from apps.accounts.auth import authenticate, extract_token
from apps.core.errors import Codes, MatrixError
from apps.core.http import Endpoint, field, json_body, query_int

from . import aliases, directory, upgrade


def _room_id(raw: str) -> str:
    if not raw.startswith("!"):
        raise MatrixError(Codes.INVALID_PARAM, f"Invalid room ID: {raw!r}", 400)
    return raw


# --- aliases -----------------------------------------------------------------------------------------

class SetRoomAliasView(Endpoint):
    """PUT /_matrix/client/v3/directory/room/{roomAlias}"""

    operation_id = "setRoomAlias"

    def handle(self, request, room_alias, **kwargs):
        requester = authenticate(request)
        body = json_body(request)
        aliases.set_alias(requester, room_alias, field(body, "room_id", str, required=True))
        return {}


class GetRoomIdByAliasView(Endpoint):
    """GET /_matrix/client/v3/directory/room/{roomAlias} (no access token needed)"""

    operation_id = "getRoomIdByAlias"

    def handle(self, request, room_alias, **kwargs):
        return aliases.resolve_alias(room_alias)


class DeleteRoomAliasView(Endpoint):
    """DELETE /_matrix/client/v3/directory/room/{roomAlias}"""

    operation_id = "deleteRoomAlias"

    def handle(self, request, room_alias, **kwargs):
        requester = authenticate(request)
        aliases.delete_alias(requester, room_alias)
        return {}


class GetLocalAliasesView(Endpoint):
    """GET /_matrix/client/v3/rooms/{roomId}/aliases"""

    operation_id = "getLocalAliases"

    def handle(self, request, room_id, **kwargs):
        requester = authenticate(request)
        return {"aliases": aliases.local_aliases(requester, _room_id(room_id))}


# --- the published room directory --------------------------------------------------------------------

class GetRoomVisibilityOnDirectoryView(Endpoint):
    """GET /_matrix/client/v3/directory/list/room/{roomId} (no access token needed)"""

    operation_id = "getRoomVisibilityOnDirectory"

    def handle(self, request, room_id, **kwargs):
        return {"visibility": directory.get_visibility(_room_id(room_id))}


class SetRoomVisibilityOnDirectoryView(Endpoint):
    """PUT /_matrix/client/v3/directory/list/room/{roomId}"""

    operation_id = "setRoomVisibilityOnDirectory"

    def handle(self, request, room_id, **kwargs):
        requester = authenticate(request)
        body = json_body(request, required=False)
        directory.set_visibility(requester, _room_id(room_id), field(body, "visibility", str, default="public"))
        return {}


class GetPublicRoomsView(Endpoint):
    """GET /_matrix/client/v3/publicRooms (an access token is optional; when given it must be valid)"""

    operation_id = "getPublicRooms"

    def handle(self, request, **kwargs):
        if extract_token(request) is not None:
            authenticate(request, allow_guest=True)
        return directory.public_rooms(limit=query_int(request, "limit"), since=request.GET.get("since"),
                                      server=request.GET.get("server"))


class QueryPublicRoomsView(Endpoint):
    """POST /_matrix/client/v3/publicRooms"""

    operation_id = "queryPublicRooms"

    def handle(self, request, **kwargs):
        authenticate(request, allow_guest=True)
        body = json_body(request)
        filt = field(body, "filter", dict, default={})
        return directory.public_rooms(
            limit=field(body, "limit", int), since=field(body, "since", str), server=request.GET.get("server"),
            search_term=field(filt, "generic_search_term", str), room_types=field(filt, "room_types", list),
            include_all_networks=field(body, "include_all_networks", bool, default=False),
            third_party_instance_id=field(body, "third_party_instance_id", str),
        )


# --- upgrades ----------------------------------------------------------------------------------------

class UpgradeRoomView(Endpoint):
    """POST /_matrix/client/v3/rooms/{roomId}/upgrade"""

    operation_id = "upgradeRoom"

    def handle(self, request, room_id, **kwargs):
        requester = authenticate(request)
        body = json_body(request)
        new_version = field(body, "new_version", str, required=True)
        return {"replacement_room": upgrade.upgrade_room(requester, _room_id(room_id), new_version,
                                                         body.get("additional_creators"))}
