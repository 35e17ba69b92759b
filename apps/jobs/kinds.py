"""The job kinds of this app: `purge_history` (apps.rooms.purge) and `deactivate_user`
(apps.jobs.deactivation). Other apps register theirs the same way (see `registry`)."""
from __future__ import annotations

from .registry import register

PURGE_HISTORY = "purge_history"
DEACTIVATE_USER = "deactivate_user"


@register(PURGE_HISTORY)
def run_purge_history(job, progress) -> dict:
    """params: room_id, before_stream_ordering, delete_local_events. A resumed purge continues (the
    purge is idempotent); its progress counts on from what the interrupted run reported."""
    from apps.rooms.purge import purge_history

    params = job.params
    before = job.progress_done

    def report(done: int, total: int) -> None:
        progress(before + done, before + total)

    result = purge_history(params["room_id"], int(params["before_stream_ordering"]),
                           bool(params.get("delete_local_events", False)), report)
    return result.as_dict()


@register(DEACTIVATE_USER)
def run_deactivate_user(job, progress) -> dict:
    from .deactivation import run

    return run(job, progress)
