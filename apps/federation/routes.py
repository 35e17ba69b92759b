"""Routing-table rows of the federation app (see hsproject/routing.py).

`keys` rows may be served by any process with the `keys` resource (Synapse's listener resource name);
`federation` rows by the federation readers.
"""
from hsproject.routing import Route

from . import views, views_query
from . import views_rooms as vr

ROUTES = [
    Route("^/_matrix/key/v2/server$", GET=views.GetServerKeyView, serves="keys"),
    Route("^/_matrix/key/v2/query$", POST=views.BulkPerspectivesKeyQueryView, serves="keys"),
    Route("^/_matrix/key/v2/query/(?P<server_name>[^/]+)$", GET=views.PerspectivesKeyQueryView, serves="keys"),
    Route("^/_matrix/federation/v1/version$", GET=views.GetVersionView, serves="federation"),
]

# --- signed endpoints about rooms (views_rooms.py) ------------------------------------------------------
# Handshake events and transactions are written through the room's persister
# (persister.send_to_persister); /send is balanced by origin so that one process handles the
# transactions of an origin, in order.
_FED = "^/_matrix/federation"
_ROOM = "(?P<room_id>[^/]+)"
_EVENT = "(?P<event_id>[^/]+)"
_USER = "(?P<user_id>[^/]+)"

ROUTES += [
    Route(f"{_FED}/v1/event/{_EVENT}$", GET=vr.GetEventView, serves="federation"),
    Route(f"{_FED}/v1/state/{_ROOM}$", GET=vr.GetRoomStateView, serves="federation"),
    Route(f"{_FED}/v1/state_ids/{_ROOM}$", GET=vr.GetRoomStateIdsView, serves="federation"),
    Route(f"{_FED}/v1/event_auth/{_ROOM}/{_EVENT}$", GET=vr.GetEventAuthView, serves="federation"),
    Route(f"{_FED}/v1/backfill/{_ROOM}$", GET=vr.BackfillRoomView, serves="federation"),
    Route(f"{_FED}/v1/get_missing_events/{_ROOM}$", POST=vr.GetMissingPreviousEventsView, serves="federation"),
    Route(f"{_FED}/v1/timestamp_to_event/{_ROOM}$", GET=vr.GetEventByTimestampView, serves="federation"),
    Route(f"{_FED}/v1/query/directory$", GET=vr.QueryRoomDirectoryView, serves="federation"),
    Route(f"{_FED}/v1/query/profile$", GET=vr.QueryProfileView, serves="federation"),
    Route(f"{_FED}/v1/publicRooms$", GET=vr.GetPublicRoomsView, POST=vr.QueryPublicRoomsView, serves="federation"),
    Route(f"{_FED}/v1/make_join/{_ROOM}/{_USER}$", GET=vr.MakeJoinView, serves="federation"),
    Route(f"{_FED}/v1/send_join/{_ROOM}/{_EVENT}$", PUT=vr.SendJoinV1View, serves="federation",
          writes="events", shard_key="room_id"),
    Route(f"{_FED}/v2/send_join/{_ROOM}/{_EVENT}$", PUT=vr.SendJoinV2View, serves="federation",
          writes="events", shard_key="room_id"),
    Route(f"{_FED}/v1/make_leave/{_ROOM}/{_USER}$", GET=vr.MakeLeaveView, serves="federation"),
    Route(f"{_FED}/v1/send_leave/{_ROOM}/{_EVENT}$", PUT=vr.SendLeaveV1View, serves="federation",
          writes="events", shard_key="room_id"),
    Route(f"{_FED}/v2/send_leave/{_ROOM}/{_EVENT}$", PUT=vr.SendLeaveV2View, serves="federation",
          writes="events", shard_key="room_id"),
    Route(f"{_FED}/v1/make_knock/{_ROOM}/{_USER}$", GET=vr.MakeKnockView, serves="federation"),
    Route(f"{_FED}/v1/send_knock/{_ROOM}/{_EVENT}$", PUT=vr.SendKnockView, serves="federation",
          writes="events", shard_key="room_id"),
    Route(f"{_FED}/v1/invite/{_ROOM}/{_EVENT}$", PUT=vr.SendInviteV1View, serves="federation",
          writes="events", shard_key="room_id"),
    Route(f"{_FED}/v2/invite/{_ROOM}/{_EVENT}$", PUT=vr.SendInviteV2View, serves="federation",
          writes="events", shard_key="room_id"),
    Route(f"{_FED}/v1/exchange_third_party_invite/{_ROOM}$", PUT=vr.ExchangeThirdPartyInviteView,
          serves="federation"),
    Route(f"{_FED}/v1/3pid/onbind$", PUT=vr.OnBindThirdPartyIdentifierView, serves="federation"),
    Route(f"{_FED}/v1/send/(?P<txn_id>[^/]+)$", PUT=vr.SendTransactionView, serves="federation",
          writes="events", balance="origin"),
]

# The generic query (queryInfo): after the rows of the known query types above, which match first.
ROUTES += [
    Route(f"{_FED}/v1/query/(?P<query_type>[^/]+)$", GET=views_query.QueryInfoView, serves="federation"),
]
