"""Routing-table rows of send-to-device messaging: written by the `to_device` stream's writer
(`stream_writers.to_device`); the internal row is the writer's side of an m.direct_to_device EDU received
by another instance (handlers.on_direct_to_device_edu)."""
from hsproject.routing import CLIENT_ALL, Route

from . import views, views_replication

ROUTES: list = [
    Route(f"^/_matrix/client/{CLIENT_ALL}/sendToDevice/(?P<event_type>[^/]+)/(?P<txn_id>[^/]+)$",
          PUT=views.SendToDeviceView, writes="to_device", balance="user"),
    Route("^/_hs/replication/to_device/remote$", POST=views_replication.ReceiveRemoteView,
          serves="replication", writes="to_device"),
]
