"""Routing-table rows of presence (see hsproject/routing.py). Setting presence writes the single-writer
`presence` stream: the row goes to `stream_writers.presence`; reading it may go anywhere."""
from hsproject.routing import CLIENT_ALL, Route

from . import views

ROUTES: list = [
    Route(f"^/_matrix/client/{CLIENT_ALL}/presence/(?P<user_id>[^/]+)/status$",
          GET=views.PresenceStatusView, PUT=views.SetPresenceView, writes="presence", balance="user"),
]
