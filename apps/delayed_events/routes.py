"""Routing-table rows of delayed events (see hsproject/routing.py).

The listing is served by any client worker (the seeds list it among the GET-able worker endpoints). The
actions are served by the main process, as in Synapse: `delayed_events` is no stream with a configurable
writer, so its writes are main's (`writes=` relays a POST that reached a worker, and the proxy sends it
to main). Scheduling itself happens on PUT /send and PUT /state, wherever those are served.
"""
from hsproject.routing import Route

from . import views

_BASE = r"^/_matrix/client/unstable/org\.matrix\.msc4140/delayed_events"

ROUTES: list = [
    Route(_BASE + "$", GET=views.GetDelayedEventsView, balance="user"),
    Route(_BASE + "/(?P<delay_id>[^/]+)$", POST=views.UpdateDelayedEventView, writes="delayed_events",
          balance="user"),
]
