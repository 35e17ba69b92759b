"""Internal endpoint of the `device_lists` writer: record a remote user's device-list change that a
federation worker received as an EDU (apps.e2ee.remote_devices), so that it moves the stream where it is
written. Reached only over the replication listener, with the replication secret."""
from __future__ import annotations

from apps.core.errors import Codes, MatrixError
from apps.core.http import Endpoint, json_body
from apps.streams.replication_http import check_replication_auth

from . import device_lists, remote_devices

MAX_DEVICES = 100


def _ok_id(value) -> bool:
    return isinstance(value, str) and 0 < len(value) <= remote_devices.MAX_ID_LENGTH and "\x00" not in value


class RecordRemoteDeviceListChangeView(Endpoint):
    """POST /_hs/replication/e2ee/remote_device_list_change  {"user_id": str, "device_ids": [str | null]} -> {}"""

    operation_id = "replication_remote_device_list_change"

    def handle(self, request, **kwargs):
        check_replication_auth(request)
        body = json_body(request)
        user_id, device_ids = body.get("user_id"), body.get("device_ids")
        if not _ok_id(user_id) or not isinstance(device_ids, list) or not 0 < len(device_ids) <= MAX_DEVICES \
                or not all(d is None or _ok_id(d) for d in device_ids):
            raise MatrixError(Codes.BAD_JSON, f"user_id (string) and device_ids (1-{MAX_DEVICES} strings or "
                                              "nulls) are required", 400)
        if remote_devices.is_local(user_id):
            raise MatrixError(Codes.INVALID_PARAM, "Only changes of other servers' users are recorded here", 400)
        device_lists.record_change(user_id, device_ids)
        return {}
