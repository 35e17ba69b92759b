"""Routing-table rows of the OpenID app (see hsproject/routing.py)."""
from hsproject.routing import CLIENT_ALL, Route

from . import views

ROUTES: list = [
    Route(f"^/_matrix/client/{CLIENT_ALL}/user/(?P<user_id>[^/]+)/openid/request_token$",
          POST=views.RequestOpenIdTokenView, balance="user"),
    Route("^/_matrix/federation/v1/openid/userinfo$", GET=views.ExchangeOpenIdTokenView, serves="federation"),
]
