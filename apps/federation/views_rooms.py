"""Signed (X-Matrix) federation endpoints about rooms: reads, queries, the public room directory,
membership handshakes and inbound transactions. One class per spec operationId; the rules are in
`handlers` (reads), `membership` (handshakes) and `transactions` (/send)."""
from __future__ import annotations

from apps.core.errors import Codes, MatrixError
from apps.core.http import field, json_body, query_int

from . import handlers, membership, transactions
from .transport_auth import FederationEndpoint


def _room_id(raw: str) -> str:
    if not raw.startswith("!"):
        raise MatrixError(Codes.INVALID_PARAM, f"Invalid room ID: {raw!r}", 400)
    return raw


# --- reads -----------------------------------------------------------------------------------------------

class GetEventView(FederationEndpoint):
    """GET /_matrix/federation/v1/event/{eventId}"""

    operation_id = "getEvent"

    def handle_federation(self, request, origin, event_id, **kwargs):
        return handlers.get_event(origin, event_id)


class GetRoomStateView(FederationEndpoint):
    """GET /_matrix/federation/v1/state/{roomId}?event_id="""

    operation_id = "getRoomState"

    def handle_federation(self, request, origin, room_id, **kwargs):
        return handlers.get_state(origin, _room_id(room_id), request.GET.get("event_id"), ids_only=False)


class GetRoomStateIdsView(FederationEndpoint):
    """GET /_matrix/federation/v1/state_ids/{roomId}?event_id="""

    operation_id = "getRoomStateIds"

    def handle_federation(self, request, origin, room_id, **kwargs):
        return handlers.get_state(origin, _room_id(room_id), request.GET.get("event_id"), ids_only=True)


class GetEventAuthView(FederationEndpoint):
    """GET /_matrix/federation/v1/event_auth/{roomId}/{eventId}"""

    operation_id = "getEventAuth"

    def handle_federation(self, request, origin, room_id, event_id, **kwargs):
        return handlers.get_event_auth(origin, _room_id(room_id), event_id)


class BackfillRoomView(FederationEndpoint):
    """GET /_matrix/federation/v1/backfill/{roomId}?v=&limit="""

    operation_id = "backfillRoom"

    def handle_federation(self, request, origin, room_id, **kwargs):
        return handlers.backfill(origin, _room_id(room_id), request.GET.getlist("v"), query_int(request, "limit"))


class GetMissingPreviousEventsView(FederationEndpoint):
    """POST /_matrix/federation/v1/get_missing_events/{roomId}"""

    operation_id = "getMissingPreviousEvents"

    def handle_federation(self, request, origin, room_id, **kwargs):
        return handlers.get_missing_events(origin, _room_id(room_id), json_body(request))


class GetEventByTimestampView(FederationEndpoint):
    """GET /_matrix/federation/v1/timestamp_to_event/{roomId}?ts=&dir="""

    operation_id = "getEventByTimestamp"

    def handle_federation(self, request, origin, room_id, **kwargs):
        ts = query_int(request, "ts")
        if ts is None:
            raise MatrixError(Codes.MISSING_PARAM, "Missing query parameter: ts", 400)
        direction = request.GET.get("dir")
        if direction is None:
            raise MatrixError(Codes.MISSING_PARAM, "Missing query parameter: dir", 400)
        return handlers.timestamp_to_event(origin, _room_id(room_id), ts, direction)


# --- queries and the public room directory ---------------------------------------------------------------

class QueryRoomDirectoryView(FederationEndpoint):
    """GET /_matrix/federation/v1/query/directory?room_alias="""

    operation_id = "queryRoomDirectory"

    def handle_federation(self, request, origin, **kwargs):
        return handlers.query_directory(request.GET.get("room_alias"))


class QueryProfileView(FederationEndpoint):
    """GET /_matrix/federation/v1/query/profile?user_id=&field="""

    operation_id = "queryProfile"

    def handle_federation(self, request, origin, **kwargs):
        return handlers.query_profile(request.GET.get("user_id"), request.GET.get("field"))


def _bool_param(request, name: str) -> bool:
    raw = request.GET.get(name)
    if raw in (None, "false"):
        return False
    if raw == "true":
        return True
    raise MatrixError(Codes.INVALID_PARAM, f"Query parameter {name} must be true or false", 400)


class GetPublicRoomsView(FederationEndpoint):
    """GET /_matrix/federation/v1/publicRooms"""

    operation_id = "getPublicRooms"

    def handle_federation(self, request, origin, **kwargs):
        return handlers.public_rooms(limit=query_int(request, "limit"), since=request.GET.get("since"),
                                     include_all_networks=_bool_param(request, "include_all_networks"),
                                     third_party_instance_id=request.GET.get("third_party_instance_id"))


class QueryPublicRoomsView(FederationEndpoint):
    """POST /_matrix/federation/v1/publicRooms"""

    operation_id = "queryPublicRooms"

    def handle_federation(self, request, origin, **kwargs):
        body = json_body(request)
        filt = field(body, "filter", dict, default={})
        return handlers.public_rooms(
            limit=field(body, "limit", int), since=field(body, "since", str),
            search_term=field(filt, "generic_search_term", str), room_types=field(filt, "room_types", list),
            include_all_networks=field(body, "include_all_networks", bool, default=False),
            third_party_instance_id=field(body, "third_party_instance_id", str))


# --- membership handshakes -------------------------------------------------------------------------------

class MakeJoinView(FederationEndpoint):
    """GET /_matrix/federation/v1/make_join/{roomId}/{userId}?ver="""

    operation_id = "makeJoin"

    def handle_federation(self, request, origin, room_id, user_id, **kwargs):
        return membership.make_join(origin, _room_id(room_id), user_id, request.GET.getlist("ver"))


class SendJoinV2View(FederationEndpoint):
    """PUT /_matrix/federation/v2/send_join/{roomId}/{eventId}"""

    operation_id = "sendJoinV2"

    def handle_federation(self, request, origin, room_id, event_id, **kwargs):
        return membership.send_join(origin, _room_id(room_id), event_id, json_body(request))


class SendJoinV1View(FederationEndpoint):
    """PUT /_matrix/federation/v1/send_join/{roomId}/{eventId}: the deprecated v1, whose body is the
    v2 response wrapped as `[200, {...}]` (removed from the spec's OpenAPI; its former operationId)."""

    operation_id = "sendJoinV1"

    def handle_federation(self, request, origin, room_id, event_id, **kwargs):
        body = membership.send_join(origin, _room_id(room_id), event_id, json_body(request))
        body.pop("members_omitted", None)
        body.pop("servers_in_room", None)
        return _list_response([200, body])


class MakeLeaveView(FederationEndpoint):
    """GET /_matrix/federation/v1/make_leave/{roomId}/{userId}"""

    operation_id = "makeLeave"

    def handle_federation(self, request, origin, room_id, user_id, **kwargs):
        return membership.make_leave(origin, _room_id(room_id), user_id)


class SendLeaveV2View(FederationEndpoint):
    """PUT /_matrix/federation/v2/send_leave/{roomId}/{eventId}"""

    operation_id = "sendLeaveV2"

    def handle_federation(self, request, origin, room_id, event_id, **kwargs):
        return membership.send_leave(origin, _room_id(room_id), event_id, json_body(request))


class SendLeaveV1View(FederationEndpoint):
    """PUT /_matrix/federation/v1/send_leave/{roomId}/{eventId}: deprecated, `[200, {}]`."""

    operation_id = "sendLeaveV1"

    def handle_federation(self, request, origin, room_id, event_id, **kwargs):
        return _list_response([200, membership.send_leave(origin, _room_id(room_id), event_id,
                                                          json_body(request))])


class MakeKnockView(FederationEndpoint):
    """GET /_matrix/federation/v1/make_knock/{roomId}/{userId}?ver="""

    operation_id = "makeKnock"

    def handle_federation(self, request, origin, room_id, user_id, **kwargs):
        versions = request.GET.getlist("ver")
        if not versions:
            raise MatrixError(Codes.MISSING_PARAM, "Missing query parameter: ver", 400)
        return membership.make_knock(origin, _room_id(room_id), user_id, versions)


class SendKnockView(FederationEndpoint):
    """PUT /_matrix/federation/v1/send_knock/{roomId}/{eventId}"""

    operation_id = "sendKnock"

    def handle_federation(self, request, origin, room_id, event_id, **kwargs):
        return membership.send_knock(origin, _room_id(room_id), event_id, json_body(request))


class SendInviteV2View(FederationEndpoint):
    """PUT /_matrix/federation/v2/invite/{roomId}/{eventId}"""

    operation_id = "sendInviteV2"

    def handle_federation(self, request, origin, room_id, event_id, **kwargs):
        return membership.receive_invite(origin, _room_id(room_id), event_id, json_body(request))


class SendInviteV1View(FederationEndpoint):
    """PUT /_matrix/federation/v1/invite/{roomId}/{eventId}: rooms v1 and v2; `[200, {"event": ...}]`."""

    operation_id = "sendInviteV1"

    def handle_federation(self, request, origin, room_id, event_id, **kwargs):
        return _list_response([200, membership.receive_invite_v1(origin, _room_id(room_id), event_id,
                                                                 json_body(request))])


class _ThirdPartyUnsupported(FederationEndpoint):
    """Third-party (3pid) invites are not supported by this server: a clear refusal, never a 500."""

    def handle_federation(self, request, origin, **kwargs):
        raise MatrixError(Codes.UNRECOGNIZED, "Third-party invites are not supported by this server", 403)


class ExchangeThirdPartyInviteView(_ThirdPartyUnsupported):
    """PUT /_matrix/federation/v1/exchange_third_party_invite/{roomId}"""

    operation_id = "exchangeThirdPartyInvite"


class OnBindThirdPartyIdentifierView(_ThirdPartyUnsupported):
    """PUT /_matrix/federation/v1/3pid/onbind"""

    operation_id = "onBindThirdPartyIdentifier"


# --- transactions ----------------------------------------------------------------------------------------

class SendTransactionView(FederationEndpoint):
    """PUT /_matrix/federation/v1/send/{txnId}"""

    operation_id = "sendTransaction"

    def handle_federation(self, request, origin, txn_id, **kwargs):
        return transactions.receive_transaction(origin, txn_id, json_body(request))


def _list_response(value: list):
    from django.http import JsonResponse

    return JsonResponse(value, safe=False)
