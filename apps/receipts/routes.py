"""Routing-table rows of receipts and read markers: both write the `receipts` stream (and read markers
the `account_data` stream through `apps.account_data`); the internal row is the writer's side of
`handlers.write_receipt` for the other instances."""
from hsproject.routing import CLIENT_ALL, Route

from . import views, views_replication

_ROOM = "(?P<room_id>[^/]+)"

ROUTES: list = [
    Route(f"^/_matrix/client/{CLIENT_ALL}/rooms/{_ROOM}/receipt/(?P<receipt_type>[^/]+)/(?P<event_id>[^/]+)$",
          POST=views.PostReceiptView, writes="receipts", balance="user"),
    Route(f"^/_matrix/client/{CLIENT_ALL}/rooms/{_ROOM}/read_markers$",
          POST=views.SetReadMarkerView, writes="receipts", balance="user"),
    Route("^/_hs/replication/receipts/write$", POST=views_replication.WriteReceiptView,
          serves="replication", writes="receipts"),
]
