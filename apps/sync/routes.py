"""Routing-table rows of the sync app (see hsproject/routing.py): served by sync workers (`serves="sync"`),
balanced by user so a user's long-polls land on one process."""
from hsproject.routing import CLIENT_R0, Route

from . import views

ROUTES: list = [
    Route(f"^/_matrix/client/{CLIENT_R0}/sync$", GET=views.SyncView, serves="sync", balance="user"),
    Route(f"^/_matrix/client/{CLIENT_R0}/user/(?P<user_id>[^/]+)/filter$", POST=views.DefineFilterView,
          serves="client", balance="user"),
    Route(f"^/_matrix/client/{CLIENT_R0}/user/(?P<user_id>[^/]+)/filter/(?P<filter_id>[^/]+)$",
          GET=views.GetFilterView, serves="client", balance="user"),
]
