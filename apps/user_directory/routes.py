"""Routing-table row of the user directory (a read: any client-serving process)."""
from hsproject.routing import CLIENT_ALL, Route

from . import views

ROUTES: list = [
    Route(f"^/_matrix/client/{CLIENT_ALL}/user_directory/search$", POST=views.SearchUserDirectoryView,
          balance="user"),
]
