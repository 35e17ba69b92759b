"""Routing-table rows of push delivery: the unsubscribe link of notification emails."""
from hsproject.routing import Route

from . import views

ROUTES: list = [
    Route("^/_matrix/client/unstable/pushers/remove$", GET=views.UnsubscribeView, POST=views.UnsubscribeView),
]
