"""Internal endpoint of an event persister: persist an event another instance built
(`apps.rooms.forwarding`). Reached only over the replication listener, with the replication secret."""
from __future__ import annotations

from apps.core.http import Endpoint, json_body
from apps.streams.replication_http import check_replication_auth

from . import forwarding


class PersistEventView(Endpoint):
    """POST /_hs/replication/persist_event/{roomId}"""

    operation_id = "replication_persist_event"

    def handle(self, request, room_id, **kwargs):
        check_replication_auth(request)
        return forwarding.persist_handed_over(room_id, json_body(request))
