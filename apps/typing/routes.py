"""Routing-table rows of typing notifications (see hsproject/routing.py): the endpoint writes the
single-writer `typing` stream, so the proxy sends it to `stream_writers.typing`."""
from hsproject.routing import CLIENT_ALL, Route

from . import views

ROUTES: list = [
    Route(f"^/_matrix/client/{CLIENT_ALL}/rooms/(?P<room_id>[^/]+)/typing/(?P<user_id>[^/]+)$",
          PUT=views.SetTypingView, writes="typing", balance="user"),
]
