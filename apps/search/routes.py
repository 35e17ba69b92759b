"""Routing-table row of server-side search: a read, any client-serving process."""
from hsproject.routing import CLIENT_ALL, Route

from . import views

ROUTES: list = [
    Route(f"^/_matrix/client/{CLIENT_ALL}/search$", POST=views.SearchView, balance="user"),
]
