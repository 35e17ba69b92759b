"""Routing-table rows of mutual rooms: a read, any client-serving process."""
from hsproject.routing import Route

from . import views

ROUTES: list = [
    Route("^/_matrix/client/v1/mutual_rooms$", GET=views.GetMutualRoomsView, balance="user"),
]
