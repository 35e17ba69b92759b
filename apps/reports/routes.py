"""Routing-table rows of the reports app (see hsproject/routing.py)."""
from hsproject.routing import CLIENT_ALL, CLIENT_R0, Route

from . import views

ROUTES: list = [
    Route(f"^/_matrix/client/{CLIENT_R0}/rooms/(?P<room_id>[^/]+)/report/(?P<event_id>[^/]+)$",
          POST=views.ReportEventView, balance="user"),
    Route(f"^/_matrix/client/{CLIENT_ALL}/rooms/(?P<room_id>[^/]+)/report$", POST=views.ReportRoomView,
          balance="user"),
    Route(f"^/_matrix/client/{CLIENT_ALL}/users/(?P<user_id>[^/]+)/report$", POST=views.ReportUserView,
          balance="user"),
]
