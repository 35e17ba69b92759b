"""Routing-table rows of the discovery app."""
from hsproject.routing import Route

from . import views

ROUTES = [
    Route("^/_matrix/client/versions$", GET=views.GetVersionsView, serves="client"),
]
