"""Routing-table rows of event relationships and threads: reads only, any client-serving process."""
from hsproject.routing import Route

from . import views

_ROOM = "(?P<room_id>[^/]+)"
_BASE = f"^/_matrix/client/v1/rooms/{_ROOM}/relations/(?P<event_id>[^/]+)"

ROUTES: list = [
    Route(f"{_BASE}$", GET=views.GetRelatingEventsView, balance="user"),
    Route(f"{_BASE}/(?P<rel_type>[^/]+)$", GET=views.GetRelatingEventsWithRelTypeView, balance="user"),
    Route(f"{_BASE}/(?P<rel_type>[^/]+)/(?P<event_type>[^/]+)$",
          GET=views.GetRelatingEventsWithRelTypeAndEventTypeView, balance="user"),
    Route(f"^/_matrix/client/v1/rooms/{_ROOM}/threads$", GET=views.GetThreadRootsView, balance="user"),
]
