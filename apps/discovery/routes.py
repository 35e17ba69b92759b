"""Routing-table rows of the discovery app (see hsproject/routing.py)."""
from hsproject.routing import CLIENT_R0, Route

from . import views

ROUTES = [
    Route("^/_matrix/client/versions$", GET=views.GetVersionsView, serves="client"),
    Route(f"^/_matrix/client/{CLIENT_R0}/capabilities$", GET=views.GetCapabilitiesView, serves="client"),
    Route(r"^/\.well-known/matrix/client$", GET=views.GetWellknownView, serves="discovery"),
    Route(r"^/\.well-known/matrix/server$", GET=views.GetWellKnownServerView, serves="discovery"),
    Route(r"^/\.well-known/matrix/support$", GET=views.GetWellknownSupportView, serves="discovery"),
    Route("^/health$", GET=views.HealthView, serves="health"),
]
