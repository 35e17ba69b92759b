"""Deactivating an account, in two parts (Synapse's admin `POST /_synapse/admin/v1/deactivate/{userId}`
and the Django admin's "deactivate users" action):

1. at once, in the caller's transaction (`deactivate_account`): the account is locked out, as the client
   API's deactivation does (`apps.accounts.lifecycle.deactivate_user`: marked deactivated, password
   unusable, every device and token gone, profile cleared), and a `deactivate_user` job is recorded;
2. the long part, as that job (`run`), on the `background` queue: leave every room the user is joined
   to, invited to or knocking on, one by one with progress; delete their pushers and any device or
   token that appeared since; with `erase`, also their account data and server-side key backups (the
   profile is already cleared in part 1, as for every deactivation here).

The user directory keeps no rows of its own (a deactivated local user is never listed), so there is
nothing to remove from it. Each step is idempotent, so a run interrupted anywhere is resumed by the next
(a room already left is no longer in the list). A room that cannot be left (a remote server unreachable
when rejecting a remote invite) is recorded in the job's result and the others are still left; the job
can be sent round again from the Django admin.
"""
from __future__ import annotations

from django.db import transaction

from apps.accounts import lifecycle
from apps.accounts import stores as account_stores
from apps.accounts.models import User
from apps.core.errors import Codes, MatrixError

from . import stores
from .handlers import start_job
from .kinds import DEACTIVATE_USER
from .models import Job

# Memberships that make a user part of a room, and which leaving ends (an invite is rejected, a knock
# rescinded). A ban is not the user's to change.
_LEAVABLE = ("join", "invite", "knock")


def deactivate_account(user: User, *, erase: bool = False) -> Job:
    """Lock the account out now and record the job that parts it from its rooms. A job already waiting
    or running for the same user and `erase` is returned rather than doubled."""
    from apps.delayed_events import stores as delayed_events

    with transaction.atomic():
        lifecycle.deactivate_user(user)
        # What the account scheduled must not be sent in its name once it is gone.
        delayed_events.cancel_all_of(user.user_id, lifecycle.now_ms(), "account deactivated")
        for job in stores.active(DEACTIVATE_USER, user.user_id):
            if bool(job.params.get("erase")) == erase:
                return job
        return start_job(DEACTIVATE_USER, {"user_id": user.user_id, "erase": erase}, target=user.user_id)


def rooms_to_leave(user_id: str) -> list[str]:
    from apps.rooms.models import RoomMembership

    return list(RoomMembership.objects.filter(user_id=user_id, membership__in=_LEAVABLE)
                .order_by("stream_ordering").values_list("room_id", flat=True))


def run(job: Job, progress) -> dict:
    from apps.accounts.auth import Requester
    from apps.rooms.handlers import leave_room

    user_id = job.params["user_id"]
    erase = bool(job.params.get("erase", False))
    user = account_stores.user_by_localpart(user_id[1:].split(":", 1)[0])
    if user is None or user.user_id != user_id:
        raise MatrixError(Codes.NOT_FOUND, f"Unknown user {user_id}", 404)
    if not user.deactivated:
        # Never part an active account from its rooms (this job outlived a reactivation).
        raise MatrixError(Codes.FORBIDDEN, f"{user_id} is not deactivated", 403)
    lifecycle.logout_all(user)

    requester = Requester(user=user, device=None, access_token=None, is_guest=user.is_guest)
    rooms = rooms_to_leave(user_id)
    before = job.progress_done
    total = before + len(rooms)
    failed: dict[str, str] = {}
    progress(before, total)
    for i, room_id in enumerate(rooms, start=1):
        try:
            leave_room(requester, room_id)
        except MatrixError as e:
            failed[room_id] = e.error
        except Exception as e:  # noqa: BLE001 - one room must not keep the user in all the others
            failed[room_id] = f"{type(e).__name__}: {e}"
        progress(before + i, total, result={"rooms_left": i - len(failed), "failed": failed})

    pushers = _delete_pushers(user_id)
    lifecycle.logout_all(user)
    if erase:
        _erase(user_id)
    return {"rooms_left": len(rooms) - len(failed), "failed": failed, "pushers_deleted": pushers, "erased": erase}


def _delete_pushers(user_id: str) -> int:
    from apps.push import stores as push_stores

    pushers = push_stores.pushers_of(user_id)
    for p in pushers:
        push_stores.delete_pusher(user_id, p.app_id, p.pushkey)
    return len(pushers)


def _erase(user_id: str) -> None:
    """What `erase` removes beyond a deactivation: the user's account data (global and per room) and their
    server-side room key backups."""
    from apps.account_data.models import AccountData
    from apps.e2ee import stores as e2ee_stores

    AccountData.objects.filter(user_id=user_id).delete()
    while (version := e2ee_stores.current_backup_version(user_id)) is not None:
        e2ee_stores.delete_backup_version(user_id, version.version)
