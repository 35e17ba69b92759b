"""Internal endpoint of the `account_data` writer: store account data the server itself writes on
another instance (`handlers.write_server_account_data`: read markers' `m.fully_read` written by the
receipts writer). Reached only over the replication listener, with the replication secret."""
from __future__ import annotations

from apps.core.errors import Codes, MatrixError
from apps.core.http import Endpoint, json_body
from apps.streams.replication_http import check_replication_auth

from . import stores


class WriteAccountDataView(Endpoint):
    """POST /_hs/replication/account_data/write"""

    operation_id = "replication_write_account_data"

    def handle(self, request, **kwargs):
        check_replication_auth(request)
        body = json_body(request)
        user_id, room_id, data_type, content = (body.get(k) for k in ("user_id", "room_id", "type", "content"))
        if not isinstance(user_id, str) or not isinstance(data_type, str) or not isinstance(content, dict) \
                or not (room_id is None or isinstance(room_id, str)):
            raise MatrixError(Codes.BAD_JSON, "user_id, type (strings), room_id (string or null), content (object)",
                              400)
        return {"position": stores.put(user_id, room_id, data_type, content)}
