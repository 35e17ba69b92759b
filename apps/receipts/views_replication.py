"""Internal endpoint of the `receipts` writer: store a receipt checked on another instance (a federation
worker's m.receipt EDU; client requests are relayed whole by the routing table). Reached only over the
replication listener, with the replication secret."""
from __future__ import annotations

from apps.core.errors import Codes, MatrixError
from apps.core.http import Endpoint, json_body
from apps.streams.replication_http import check_replication_auth

from . import stores

_STRINGS = ("room_id", "user_id", "receipt_type", "thread_key", "event_id")
_INTS = ("event_stream_ordering", "ts")


class WriteReceiptView(Endpoint):
    """POST /_hs/replication/receipts/write"""

    operation_id = "replication_write_receipt"

    def handle(self, request, **kwargs):
        check_replication_auth(request)
        body = json_body(request)
        if not all(isinstance(body.get(k), str) for k in _STRINGS) or \
                not all(isinstance(body.get(k), int) and not isinstance(body.get(k), bool) for k in _INTS):
            raise MatrixError(Codes.BAD_JSON, f"{', '.join(_STRINGS)} (strings), {', '.join(_INTS)} (integers)", 400)
        return {"position": stores.upsert(body["room_id"], body["user_id"], body["receipt_type"], body["thread_key"],
                                          body["event_id"], body["event_stream_ordering"], body["ts"])}
