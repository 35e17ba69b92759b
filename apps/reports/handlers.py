"""Matrix rules of reporting content (spec: Client-Server API, "Reporting content").

Every report is counted against the reporter's `rc_reports` limit before anything is looked up, so that
the limit also bounds how fast IDs can be probed through the 404 answers.
"""
from __future__ import annotations

from django.conf import settings

from apps.core import ratelimit
from apps.core.errors import Codes, MatrixError
from apps.core.http import field
from apps.core.ids import UserID, is_local_id

from . import stores
from .models import Report

# A reason is free text for a human reviewer; the cap keeps one request from storing a novel.
MAX_REASON_LENGTH = 2000


def _reason(body: dict, *, required: bool) -> str:
    reason = field(body, "reason", str, required=required, default="")
    if len(reason) > MAX_REASON_LENGTH:
        raise MatrixError(Codes.INVALID_PARAM, f"reason may be at most {MAX_REASON_LENGTH} characters", 400)
    return reason


def _count(reporter: str) -> None:
    from apps.appservice.registry import is_rate_limit_exempt

    if not is_rate_limit_exempt(reporter):
        ratelimit.check(f"rc_reports:{reporter}", settings.HS.rc_reports)


def report_event(reporter: str, room_id: str, event_id: str, body: dict) -> None:
    """Spec (v1.8): the reporter must be joined to the room; an event that is not there, that the
    reporter cannot see, or that was redacted is 404 M_NOT_FOUND, the same answer in every case so that
    nothing is learnt about rooms the reporter is not in. `score` was removed in v1.18 and is ignored."""
    from apps.rooms import stores as room_stores
    from apps.rooms.models import EventRow
    from apps.rooms.visibility import filter_events_for_user

    reason = _reason(body, required=False)
    _count(reporter)
    not_found = MatrixError(Codes.NOT_FOUND, "The event was not found or you are not joined to the room.", 404)
    membership = room_stores.membership_of(room_id, reporter)
    if membership is None or membership[0] != "join":
        raise not_found
    row = EventRow.objects.filter(event_id=event_id, room_id=room_id).values_list("redacted_by", flat=True)
    if not row.exists() or row.first() is not None:
        raise not_found
    event = room_stores.get_event(event_id)
    if event is None or not filter_events_for_user(reporter, [event]):
        raise not_found
    stores.add_report(Report.KIND_EVENT, reporter, reason, room_id=room_id, event_id=event_id)


def report_room(reporter: str, room_id: str, body: dict) -> None:
    """Spec (v1.13): a room report is not restricted to rooms the reporter is in; a room this server does
    not know is 404 M_NOT_FOUND (the documented answer; the 200-for-all alternative is optional)."""
    from apps.rooms.stores import get_room

    reason = _reason(body, required=True)
    _count(reporter)
    if get_room(room_id) is None:
        raise MatrixError(Codes.NOT_FOUND, "The room was not found.", 404)
    stores.add_report(Report.KIND_ROOM, reporter, reason, room_id=room_id)


def _user_known(user_id: str) -> bool:
    from apps.accounts.models import User
    from apps.rooms.models import RoomMembership

    if is_local_id(user_id):
        return User.objects.filter(localpart=UserID.parse(user_id).localpart).exists()
    # Another server's user is known here once it has had a membership in a room of this server.
    return RoomMembership.objects.filter(user_id=user_id).exists()


def report_user(reporter: str, user_id: str, body: dict) -> None:
    """Spec (v1.14): not restricted to users sharing a room with the reporter; a user this server does not
    know is 404 M_NOT_FOUND."""
    UserID.parse(user_id)
    reason = _reason(body, required=True)
    _count(reporter)
    if not _user_known(user_id):
        raise MatrixError(Codes.NOT_FOUND, "The user was not found.", 404)
    stores.add_report(Report.KIND_USER, reporter, reason, target_user_id=user_id)
