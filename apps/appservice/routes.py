"""Routing-table rows of the application-service app (see hsproject/routing.py). Neither writes a stream:
the ping calls out to the service, the room list is a table any client-serving process may write."""
from hsproject.routing import CLIENT_R0, Route

from . import views

ROUTES: list = [
    Route("^/_matrix/client/v1/appservice/(?P<appservice_id>[^/]+)/ping$", POST=views.PingAppserviceView),
    Route(f"^/_matrix/client/{CLIENT_R0}/directory/list/appservice/(?P<network_id>[^/]+)/(?P<room_id>[^/]+)$",
          PUT=views.UpdateAppserviceRoomDirectoryVisibilityView),
]
