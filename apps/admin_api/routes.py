"""Routing-table rows of this app (see hsproject/routing.py)."""
from hsproject.routing import Route

from . import views

ROUTES = [
    Route("^/_synapse/admin/v1/register$", GET=views.SharedSecretRegisterNonce, POST=views.SharedSecretRegister,
          serves="admin"),
    Route("^/_synapse/admin/v1/purge_history/(?P<room_id>[^/]+)(?:/(?P<event_id>[^/]+))?$",
          POST=views.PurgeHistory, serves="admin"),
    Route("^/_synapse/admin/v1/purge_history_status/(?P<purge_id>[^/]+)$", GET=views.PurgeHistoryStatus,
          serves="admin"),
    Route("^/_synapse/admin/v1/deactivate/(?P<user_id>[^/]+)$", POST=views.DeactivateUser, serves="admin"),
]
