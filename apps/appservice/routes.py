"""Routing-table rows of the application-service app (see hsproject/routing.py). Neither writes a stream:
the ping calls out to the service, the room list is a table any client-serving process may write."""
from hsproject.routing import CLIENT_R0, Route

from . import views

ROUTES: list = [
    Route("^/_matrix/client/v1/appservice/(?P<appservice_id>[^/]+)/ping$", POST=views.PingAppserviceView),
    Route(f"^/_matrix/client/{CLIENT_R0}/directory/list/appservice/(?P<network_id>[^/]+)/(?P<room_id>[^/]+)$",
          PUT=views.UpdateAppserviceRoomDirectoryVisibilityView),
    Route(f"^/_matrix/client/{CLIENT_R0}/thirdparty/protocols$", GET=views.GetProtocolsView),
    Route(f"^/_matrix/client/{CLIENT_R0}/thirdparty/protocol/(?P<protocol>[^/]+)$", GET=views.GetProtocolMetadataView),
    Route(f"^/_matrix/client/{CLIENT_R0}/thirdparty/location/(?P<protocol>[^/]+)$",
          GET=views.QueryLocationByProtocolView),
    Route(f"^/_matrix/client/{CLIENT_R0}/thirdparty/user/(?P<protocol>[^/]+)$", GET=views.QueryUserByProtocolView),
    Route(f"^/_matrix/client/{CLIENT_R0}/thirdparty/location$", GET=views.QueryLocationByAliasView),
    Route(f"^/_matrix/client/{CLIENT_R0}/thirdparty/user$", GET=views.QueryUserByIDView),
]
