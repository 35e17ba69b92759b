"""Internal endpoint of the `device_lists` writer (main): delete one batch of stale devices for the
`background.delete_stale_devices` task running on another instance (apps.accounts.housekeeping), so each
deletion moves the `device_lists` stream where it is written. Reached only over the replication
listener, with the replication secret."""
from __future__ import annotations

from apps.core.errors import Codes, MatrixError
from apps.core.http import Endpoint, json_body
from apps.streams.replication_http import check_replication_auth

from . import housekeeping

MAX_BATCH = 1000


class DeleteStaleDevicesView(Endpoint):
    """POST /_hs/replication/accounts/delete_stale_devices  {"cutoff_ms": int, "limit": int} -> {"deleted": int}"""

    operation_id = "replication_delete_stale_devices"

    def handle(self, request, **kwargs):
        check_replication_auth(request)
        body = json_body(request)
        cutoff, limit = body.get("cutoff_ms"), body.get("limit")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (cutoff, limit)) \
                or not 0 < limit <= MAX_BATCH:
            raise MatrixError(Codes.BAD_JSON, f"cutoff_ms (integer) and limit (integer, 1-{MAX_BATCH}) are required",
                              400)
        return {"deleted": housekeeping.delete_stale_devices_batch(cutoff, limit)}
