"""Routing-table rows of the sync app (see hsproject/routing.py): served by sync workers (`serves="sync"`),
balanced by user so a user's long-polls land on one process."""
from hsproject.routing import CLIENT_ALL, CLIENT_R0, Route

from . import views

ROUTES: list = [
    Route(f"^/_matrix/client/{CLIENT_R0}/sync$", GET=views.SyncView, serves="sync", balance="user"),
    # Deprecated, still served by sync workers (the seeds' patterns include api/v1).
    Route(f"^/_matrix/client/{CLIENT_ALL}/events$", GET=views.GetEventsView, serves="sync", balance="user"),
    Route(f"^/_matrix/client/{CLIENT_ALL}/initialSync$", GET=views.InitialSyncView, serves="sync", balance="user"),
    Route(f"^/_matrix/client/{CLIENT_ALL}/rooms/(?P<room_id>[^/]+)/initialSync$", GET=views.RoomInitialSyncView,
          serves="sync", balance="user"),
    Route(f"^/_matrix/client/{CLIENT_R0}/events/(?P<event_id>[^/]+)$", GET=views.GetOneEventView,
          serves="client", balance="user"),
    Route(f"^/_matrix/client/{CLIENT_R0}/user/(?P<user_id>[^/]+)/filter$", POST=views.DefineFilterView,
          serves="client", balance="user"),
    Route(f"^/_matrix/client/{CLIENT_R0}/user/(?P<user_id>[^/]+)/filter/(?P<filter_id>[^/]+)$",
          GET=views.GetFilterView, serves="client", balance="user"),
]
