"""Routing-table row of send-to-device messaging: written by the `to_device` stream's writer
(`stream_writers.to_device`)."""
from hsproject.routing import CLIENT_ALL, Route

from . import views

ROUTES: list = [
    Route(f"^/_matrix/client/{CLIENT_ALL}/sendToDevice/(?P<event_type>[^/]+)/(?P<txn_id>[^/]+)$",
          PUT=views.SendToDeviceView, writes="to_device", balance="user"),
]
