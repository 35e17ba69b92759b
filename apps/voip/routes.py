"""Routing-table rows of the VoIP app (see hsproject/routing.py)."""
from hsproject.routing import CLIENT_ALL, Route

from . import views

ROUTES: list = [
    Route(f"^/_matrix/client/{CLIENT_ALL}/voip/turnServer$", GET=views.GetTurnServerView, balance="user"),
]
