"""Routing-table rows of this app (see hsproject/routing.py)."""
ROUTES: list = []
