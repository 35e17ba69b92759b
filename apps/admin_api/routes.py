"""Routing-table rows of this app (see hsproject/routing.py)."""
from hsproject.routing import Route

from . import views

ROUTES = [
    Route("^/_synapse/admin/v1/register$", GET=views.SharedSecretRegisterNonce, POST=views.SharedSecretRegister,
          serves="admin"),
]
