"""The Matrix rules of send-to-device messaging (client-server API, "Send-to-Device messaging").

    PUT /sendToDevice/{eventType}/{txnId}      sendToDevice      `send_to_device`

`messages` maps user IDs to device IDs (or `*`, every device of the user) to the message content. A
message to a local device is queued in the device's inbox; a device ID the user does not have is
dropped. Idempotent per (sender, sender's device, txn id): a retry sends nothing again.

Remote recipients: handed to the federation sender (`_remote_messages`: one `m.direct_to_device` EDU
per destination, spec: server-server API, "Send-to-device messaging"; the message_id is derived from the
sender's device and txn id, so a retried EDU is recognised). Inbound EDUs: `on_direct_to_device_edu`, the
federation app's handler of the EDU type (registered in apps.py), queues them through `receive_remote` on
the `to_device` writer (from another instance, over its internal replication endpoint).
"""
from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.conf import settings

from apps.core.errors import Codes, MatrixError
from apps.core.ids import UserID

from . import stores

logger = logging.getLogger(__name__)

MAX_TYPE_BYTES = 255
ALL_DEVICES = "*"


def _parse_messages(messages: Any) -> dict[UserID, dict[str, dict[str, Any]]]:
    if not isinstance(messages, dict):
        raise MatrixError(Codes.BAD_JSON, "messages must be an object of user IDs", 400)
    out: dict[UserID, dict[str, dict[str, Any]]] = {}
    for user_id, by_device in messages.items():
        try:
            uid = UserID.parse(user_id)
        except MatrixError:
            raise MatrixError(Codes.INVALID_PARAM, f"messages: {user_id!r} is not a user ID", 400) from None
        if not isinstance(by_device, dict):
            raise MatrixError(Codes.BAD_JSON, f"messages.{user_id} must be an object of device IDs", 400)
        for device_id, content in by_device.items():
            if not isinstance(content, dict):
                raise MatrixError(Codes.BAD_JSON, f"messages.{user_id}.{device_id} must be an object", 400)
        out[uid] = by_device
    return out


def _remote_messages(sender: str, message_type: str, message_id: str,
                     by_server: dict[str, dict[str, dict[str, Any]]]) -> None:
    """Hand each destination its messages (apps.federation_sender queues one EDU per server)."""
    from apps.federation_sender.queueing import queue_to_device

    queue_to_device(sender, message_type, message_id, by_server)


def send_to_device(requester, message_type: str, txn_id: str, messages: Any) -> None:
    if not message_type or len(message_type.encode()) > MAX_TYPE_BYTES:
        raise MatrixError(Codes.INVALID_PARAM, "Invalid event type", 400)
    parsed = _parse_messages(messages)
    sender, sender_device = requester.user_id, requester.device_id or ""
    if stores.txn_seen(sender, sender_device, txn_id):
        return
    local: dict[str, dict[str, dict[str, Any]]] = {}
    remote: dict[str, dict[str, dict[str, Any]]] = {}
    for uid, by_device in parsed.items():
        if uid.domain == settings.HS.server_name:
            local[uid.localpart] = by_device
        else:
            remote.setdefault(uid.domain, {})[str(uid)] = by_device
    _queue_local(sender, sender_device, txn_id, message_type, local)
    if remote:
        message_id = hashlib.sha256(f"{sender}\n{sender_device}\n{txn_id}".encode()).hexdigest()[:32]
        _remote_messages(sender, message_type, message_id, remote)


def receive_remote(origin: str, sender: str, message_type: str, message_id: str, messages: Any) -> None:
    """An `m.direct_to_device` EDU from `origin` (server-server API, "Send-to-device messaging"), for the
    federation app to call: queued for this server's users' devices, idempotent per (sender, message_id).
    A sender of another server than `origin`, or a recipient of another server, is ignored."""
    try:
        if UserID.parse(sender).domain != origin:
            logger.warning("to-device from %s claims sender %s: dropped", origin, sender)
            return
    except MatrixError:
        return
    parsed = _parse_messages(messages)
    local = {uid.localpart: by_device for uid, by_device in parsed.items()
             if uid.domain == settings.HS.server_name}
    if not message_type or len(message_type.encode()) > MAX_TYPE_BYTES:
        return
    # The remote sender has no device of ours: its server name stands in the txn key.
    if stores.txn_seen(sender, origin, message_id):
        return
    _queue_local(sender, origin, message_id, message_type, local)


REPLICATION_REMOTE_PATH = "/to_device/remote"


def on_direct_to_device_edu(origin: str, content: dict) -> None:
    """An `m.direct_to_device` EDU in a transaction from `origin`: `{sender, type, message_id, messages}`.
    A malformed one is dropped (EDUs are not retried one by one); on an instance that does not write the
    `to_device` stream (a federation worker) it is queued by the writer."""
    sender, message_type = content.get("sender"), content.get("type")
    message_id, messages = content.get("message_id"), content.get("messages")
    if not all(isinstance(v, str) for v in (sender, message_type, message_id)) or not isinstance(messages, dict):
        logger.info("malformed m.direct_to_device from %s: dropped", origin)
        return
    from hsproject import instance

    try:
        if instance.writes(stores.STREAM):
            receive_remote(origin, sender, message_type, message_id, messages)
        else:
            from apps.streams.replication_http import call_instance

            call_instance(instance.writers_of(stores.STREAM)[0], REPLICATION_REMOTE_PATH, {
                "origin": origin, "sender": sender, "type": message_type, "message_id": message_id,
                "messages": messages})
    except MatrixError as e:  # messages that are not a map of user IDs to device IDs to objects
        logger.info("m.direct_to_device from %s dropped: %s", origin, e)


def _queue_local(sender: str, sender_key: str, txn_id: str, message_type: str,
                 local: dict[str, dict[str, dict[str, Any]]]) -> None:
    known = stores.local_devices(local) if local else {}
    queued: dict[tuple[str, str], dict[str, Any]] = {}
    for localpart, by_device in local.items():
        devices = known.get(localpart, set())
        user_id = f"@{localpart}:{settings.HS.server_name}"
        if ALL_DEVICES in by_device:
            for device_id in devices:
                queued[(user_id, device_id)] = by_device[ALL_DEVICES]
        for device_id, content in by_device.items():
            # A message to a device the user does not have is dropped (nobody could ever fetch it);
            # a device named explicitly gets its own message rather than the `*` one.
            if device_id != ALL_DEVICES and device_id in devices:
                queued[(user_id, device_id)] = content
    stores.store_messages(sender, sender_key, txn_id, message_type,
                          [(u, d, c) for (u, d), c in sorted(queued.items(), key=lambda kv: kv[0])])
