"""Routing-table rows of the metrics app (see hsproject/routing.py). `serves="metrics"`: the generated
reverse-proxy configuration never routes it; a scraper reaches the process's metrics listener directly."""
from hsproject.routing import Route

from . import views

ROUTES = [
    Route("^/_synapse/metrics$", GET=views.MetricsView, serves="metrics"),
]
