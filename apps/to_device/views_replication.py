"""Internal endpoint of the `to_device` writer: queue the messages of an m.direct_to_device EDU that another
instance (a federation worker) received. Reached only over the replication listener, with the replication
secret; the origin was authenticated by the instance that received the transaction."""
from __future__ import annotations

from apps.core.errors import Codes, MatrixError
from apps.core.http import Endpoint, json_body
from apps.streams.replication_http import check_replication_auth

from . import handlers

_STRINGS = ("origin", "sender", "type", "message_id")


class ReceiveRemoteView(Endpoint):
    """POST /_hs/replication/to_device/remote"""

    operation_id = "replication_to_device_remote"

    def handle(self, request, **kwargs):
        check_replication_auth(request)
        body = json_body(request)
        if not all(isinstance(body.get(k), str) for k in _STRINGS) or not isinstance(body.get("messages"), dict):
            raise MatrixError(Codes.BAD_JSON, f"{', '.join(_STRINGS)} (strings) and messages (an object)", 400)
        handlers.receive_remote(body["origin"], body["sender"], body["type"], body["message_id"], body["messages"])
        return {}
