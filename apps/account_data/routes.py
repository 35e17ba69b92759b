"""Routing-table rows of account data and tags (see hsproject/routing.py): writes go to the writer of
the `account_data` stream (`stream_writers.account_data`)."""
from hsproject.routing import CLIENT_ALL, Route

from . import views, views_replication

_USER = "(?P<user_id>[^/]+)"
_ROOM = "(?P<room_id>[^/]+)"

ROUTES: list = [
    Route(f"^/_matrix/client/{CLIENT_ALL}/user/{_USER}/account_data/(?P<data_type>[^/]+)$",
          GET=views.GetAccountDataView, PUT=views.SetAccountDataView, writes="account_data", balance="user"),
    Route(f"^/_matrix/client/{CLIENT_ALL}/user/{_USER}/rooms/{_ROOM}/account_data/(?P<data_type>[^/]+)$",
          GET=views.GetAccountDataPerRoomView, PUT=views.SetAccountDataPerRoomView, writes="account_data",
          balance="user"),
    Route(f"^/_matrix/client/{CLIENT_ALL}/user/{_USER}/rooms/{_ROOM}/tags$", GET=views.GetRoomTagsView,
          balance="user"),
    Route(f"^/_matrix/client/{CLIENT_ALL}/user/{_USER}/rooms/{_ROOM}/tags/(?P<tag>[^/]+)$",
          PUT=views.SetRoomTagView, DELETE=views.DeleteRoomTagView, writes="account_data", balance="user"),
]

# Internal: the server's own account data writes from another instance (never routed by the proxy).
ROUTES += [
    Route("^/_hs/replication/account_data/write$", POST=views_replication.WriteAccountDataView,
          serves="replication", writes="account_data"),
]
