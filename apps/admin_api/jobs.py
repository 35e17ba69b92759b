"""The admin API's long operations, run as one-off jobs (apps.jobs) on the `background` queue:

    POST /_synapse/admin/v1/purge_history/{roomId}[/{eventId}]   `start_purge`   -> {"purge_id"}
    GET  /_synapse/admin/v1/purge_history_status/{purgeId}        `purge_status`  -> {"status"[, "error"]}
    POST /_synapse/admin/v1/deactivate/{userId}                   `deactivate`    -> {"id_server_unbind_result"}

Shapes and messages are Synapse's, which admin tools expect. The purge point is an event (in the path,
or `purge_up_to_event_id`): what came before it is purged and the event kept; or a time
(`purge_up_to_ts`, ms): the last event received before it is kept and what came before it purged
(`apps.rooms.purge.point_at_ts`). A purge job's status reads `active` while pending or running.
"""
from __future__ import annotations

from typing import Any

from apps.accounts import stores as account_stores
from apps.core.errors import Codes, MatrixError
from apps.core.ids import UserID, is_local_id
from apps.jobs import stores as job_stores
from apps.jobs.handlers import start_job
from apps.jobs.kinds import PURGE_HISTORY
from apps.jobs.models import Job

_STATUS = {Job.PENDING: "active", Job.RUNNING: "active", Job.COMPLETE: "complete", Job.FAILED: "failed"}


def _room(room_id: str) -> str:
    from apps.rooms import stores as room_stores

    # A room ID is `!opaque:server` up to v11, `!hash` from v12 on.
    if not room_id.startswith("!") or len(room_id) < 2:
        raise MatrixError(Codes.INVALID_PARAM, f"{room_id} is not a legal room ID", 400)
    if room_stores.get_room(room_id) is None:
        raise MatrixError(Codes.NOT_FOUND, "Unknown room", 404)
    return room_id


def start_purge(room_id: str, event_id: str | None, body: dict[str, Any]) -> dict:
    from apps.rooms import purge

    room_id = _room(room_id)
    delete_local = body.get("delete_local_events", False)
    if not isinstance(delete_local, bool):
        raise MatrixError(Codes.BAD_JSON, "delete_local_events must be a boolean", 400)
    if event_id is None:
        event_id = body.get("purge_up_to_event_id")
        if event_id is not None and not isinstance(event_id, str):
            raise MatrixError(Codes.BAD_JSON, "purge_up_to_event_id must be a string", 400)
    if event_id is not None:
        point = purge.point_at_event(room_id, event_id)
    elif "purge_up_to_ts" in body:
        ts = body["purge_up_to_ts"]
        if not isinstance(ts, int) or isinstance(ts, bool):
            raise MatrixError(Codes.BAD_JSON, "purge_up_to_ts must be an int", 400)
        point = purge.point_at_ts(room_id, ts)
    else:
        raise MatrixError(Codes.BAD_JSON, "must specify purge_up_to_event_id or purge_up_to_ts", 400)
    job = start_job(PURGE_HISTORY, {"room_id": room_id, "before_stream_ordering": point,
                                    "delete_local_events": delete_local}, target=room_id)
    return {"purge_id": str(job.pk)}


def purge_status(purge_id: str) -> dict:
    job = job_stores.get(int(purge_id)) if purge_id.isdigit() and len(purge_id) < 19 else None
    if job is None or job.kind != PURGE_HISTORY:
        raise MatrixError(Codes.NOT_FOUND, "purge id '%s' not found" % purge_id, 404)
    out: dict[str, Any] = {"status": _STATUS.get(job.status, "active")}
    if job.status == Job.FAILED:
        out["error"] = job.error
    return out


def deactivate(user_id: str, body: dict[str, Any]) -> dict:
    from apps.jobs.deactivation import deactivate_account

    target = UserID.parse(user_id)  # 400 M_INVALID_PARAM when malformed
    if not is_local_id(str(target)):
        raise MatrixError(Codes.INVALID_PARAM, "Can only deactivate local users", 400)
    erase = body.get("erase", False)
    if not isinstance(erase, bool):
        raise MatrixError(Codes.BAD_JSON, "Param 'erase' must be a boolean, if given", 400)
    user = account_stores.user_by_localpart(target.localpart)
    if user is None:
        raise MatrixError(Codes.NOT_FOUND, "User not found", 404)
    deactivate_account(user, erase=erase)
    # No identity server binding is ever made by this server, so there is nothing to unbind.
    return {"id_server_unbind_result": "no-support"}
