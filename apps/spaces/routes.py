"""Routing-table rows of spaces: reads only, any client-serving process (the federation /hierarchy: any
federation reader)."""
from hsproject.routing import Route

from . import views

ROUTES: list = [
    Route("^/_matrix/client/v1/rooms/(?P<room_id>[^/]+)/hierarchy$", GET=views.GetSpaceHierarchyView,
          balance="user"),
    Route("^/_matrix/client/v1/room_summary/(?P<room_id_or_alias>[^/]+)$", GET=views.GetRoomSummaryView,
          balance="user"),
    Route("^/_matrix/federation/v1/hierarchy/(?P<room_id>[^/]+)$", GET=views.GetFederationSpaceHierarchyView,
          serves="federation"),
]
