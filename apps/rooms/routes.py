"""Routing-table rows of the rooms app (see hsproject/routing.py).

Rows that create events write the `events` stream, sharded by room: on a deployment with several
event persisters the request is forwarded to the room's writer (`persister.send_to_persister`).
"""
from hsproject.routing import CLIENT_ALL, Route

from . import views, views_membership, views_replication

_ROOM = "(?P<room_id>[^/]+)"

ROUTES: list = [
    # Internal: an event creator hands a built event to the room's persister (never proxied).
    Route(f"^/_hs/replication/persist_event/{_ROOM}$", POST=views_replication.PersistEventView,
          serves="replication", writes="events", shard_key="room_id"),
    Route(f"^/_matrix/client/{CLIENT_ALL}/createRoom$", POST=views.CreateRoomView,
          writes="events", balance="user"),
    Route(f"^/_matrix/client/{CLIENT_ALL}/rooms/{_ROOM}/send/(?P<event_type>[^/]+)/(?P<txn_id>[^/]+)$",
          PUT=views.SendMessageView, writes="events", shard_key="room_id", balance="user"),
    Route(f"^/_matrix/client/{CLIENT_ALL}/rooms/{_ROOM}/state$", GET=views.GetRoomStateView, balance="user"),
    # The state key may be empty (`/state/m.room.name` or `/state/m.room.name/`) and may contain '/'.
    Route(f"^/_matrix/client/{CLIENT_ALL}/rooms/{_ROOM}/state/(?P<event_type>[^/]+)(?:/(?P<state_key>.*))?$",
          GET=views.RoomStateWithKeyView, PUT=views.SetRoomStateWithKeyView,
          writes="events", shard_key="room_id", balance="user"),
    Route(f"^/_matrix/client/{CLIENT_ALL}/rooms/{_ROOM}/event/(?P<event_id>[^/]+)$",
          GET=views.GetOneRoomEventView, balance="user"),
    Route(f"^/_matrix/client/{CLIENT_ALL}/rooms/{_ROOM}/join$", POST=views.JoinRoomByIdView,
          writes="events", shard_key="room_id", balance="user"),
    Route(f"^/_matrix/client/{CLIENT_ALL}/join/(?P<room_id_or_alias>[^/]+)$", POST=views.JoinRoomView,
          writes="events", shard_key="room_id", balance="user"),
    Route(f"^/_matrix/client/{CLIENT_ALL}/rooms/{_ROOM}/invite$", POST=views.InviteUserView,
          writes="events", shard_key="room_id", balance="user"),
    Route(f"^/_matrix/client/{CLIENT_ALL}/rooms/{_ROOM}/leave$", POST=views.LeaveRoomView,
          writes="events", shard_key="room_id", balance="user"),
    Route(f"^/_matrix/client/{CLIENT_ALL}/joined_rooms$", GET=views.GetJoinedRoomsView, balance="user"),
]

# --- membership: kick, ban, unban, knock, forget, members lists (views_membership.py) ---------------------
ROUTES += [
    Route(f"^/_matrix/client/{CLIENT_ALL}/rooms/{_ROOM}/kick$", POST=views_membership.KickView,
          writes="events", shard_key="room_id", balance="user"),
    Route(f"^/_matrix/client/{CLIENT_ALL}/rooms/{_ROOM}/ban$", POST=views_membership.BanView,
          writes="events", shard_key="room_id", balance="user"),
    Route(f"^/_matrix/client/{CLIENT_ALL}/rooms/{_ROOM}/unban$", POST=views_membership.UnbanView,
          writes="events", shard_key="room_id", balance="user"),
    Route(f"^/_matrix/client/{CLIENT_ALL}/knock/(?P<room_id_or_alias>[^/]+)$", POST=views_membership.KnockRoomView,
          writes="events", shard_key="room_id", balance="user"),
    # Forgetting writes no event: any client-serving process may take it.
    Route(f"^/_matrix/client/{CLIENT_ALL}/rooms/{_ROOM}/forget$", POST=views_membership.ForgetRoomView,
          balance="user"),
    Route(f"^/_matrix/client/{CLIENT_ALL}/rooms/{_ROOM}/members$", GET=views_membership.GetMembersByRoomView,
          balance="user"),
    Route(f"^/_matrix/client/{CLIENT_ALL}/rooms/{_ROOM}/joined_members$",
          GET=views_membership.GetJoinedMembersByRoomView, balance="user"),
]


# --- room aliases, the published room directory, room upgrades (apps/rooms/views_directory.py) ---------
# The alias and directory tables are no stream: any client-serving process may write them. An upgrade
# creates events in the old room (tombstone) and a new one: it goes to the old room's persister.

from . import views_directory as _vd  # noqa: E402

ROUTES += [
    Route(f"^/_matrix/client/{CLIENT_ALL}/directory/room/(?P<room_alias>[^/]+)$",
          GET=_vd.GetRoomIdByAliasView, PUT=_vd.SetRoomAliasView, DELETE=_vd.DeleteRoomAliasView, balance="user"),
    Route(f"^/_matrix/client/{CLIENT_ALL}/rooms/{_ROOM}/aliases$", GET=_vd.GetLocalAliasesView, balance="user"),
    Route(f"^/_matrix/client/{CLIENT_ALL}/directory/list/room/{_ROOM}$",
          GET=_vd.GetRoomVisibilityOnDirectoryView, PUT=_vd.SetRoomVisibilityOnDirectoryView, balance="user"),
    Route(f"^/_matrix/client/{CLIENT_ALL}/publicRooms$", GET=_vd.GetPublicRoomsView, POST=_vd.QueryPublicRoomsView,
          balance="user"),
    Route(f"^/_matrix/client/{CLIENT_ALL}/rooms/{_ROOM}/upgrade$", POST=_vd.UpgradeRoomView,
          writes="events", shard_key="room_id", balance="user"),
]
# --- end of directory block ---------------------------------------------------------------------------


# --- room history and redaction (apps/rooms/views_timeline.py) ------------------------------------------
# Reading history writes nothing (any client-serving process); a redaction is an event of the room.

from . import views_timeline as _vt  # noqa: E402

ROUTES += [
    Route(f"^/_matrix/client/{CLIENT_ALL}/rooms/{_ROOM}/messages$", GET=_vt.GetRoomEventsView, balance="user"),
    Route(f"^/_matrix/client/{CLIENT_ALL}/rooms/{_ROOM}/context/(?P<event_id>[^/]+)$",
          GET=_vt.GetEventContextView, balance="user"),
    Route(f"^/_matrix/client/v1/rooms/{_ROOM}/timestamp_to_event$", GET=_vt.GetEventByTimestampView,
          balance="user"),
    Route(f"^/_matrix/client/{CLIENT_ALL}/rooms/{_ROOM}/redact/(?P<event_id>[^/]+)/(?P<txn_id>[^/]+)$",
          PUT=_vt.RedactEventView, writes="events", shard_key="room_id", balance="user"),
]
# --- end of room history block --------------------------------------------------------------------------
