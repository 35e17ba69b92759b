"""Routing-table rows of the federation app (see hsproject/routing.py).

`keys` rows may be served by any process with the `keys` resource (Synapse's listener resource name);
`federation` rows by the federation readers.
"""
from hsproject.routing import Route

from . import views

ROUTES = [
    Route("^/_matrix/key/v2/server$", GET=views.GetServerKeyView, serves="keys"),
    Route("^/_matrix/key/v2/query$", POST=views.BulkPerspectivesKeyQueryView, serves="keys"),
    Route("^/_matrix/key/v2/query/(?P<server_name>[^/]+)$", GET=views.PerspectivesKeyQueryView, serves="keys"),
    Route("^/_matrix/federation/v1/version$", GET=views.GetVersionView, serves="federation"),
]
