"""Routing-table rows of the rooms app (see hsproject/routing.py)."""
from hsproject.routing import Route  # noqa: F401

ROUTES: list = []
