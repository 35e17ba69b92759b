"""Server administration of accounts through the client-server API (spec: "Server administration",
data/api/client-server/admin.yaml): who is a user (their sessions), and locking and suspending accounts.

Locking and suspension are reversible and keep the account's sessions; what they forbid is enforced by
`auth.authenticate` (locked: 401 M_USER_LOCKED), login and refresh (no new token while locked), and the
actions a suspended account may not take (`auth.require_not_suspended`; event sending in
apps.rooms.creation). The Django admin offers the same switches.
"""
from __future__ import annotations

from apps.core.errors import Codes, MatrixError
from apps.core.ids import UserID, is_local_id

from . import stores
from .auth import Requester
from .models import User


def _local_user(user_id: str) -> User:
    """Spec: a user of another server is 400 M_INVALID_PARAM; an unknown or deactivated one 404."""
    try:
        parsed = UserID.parse(user_id)
    except MatrixError:
        raise MatrixError(Codes.INVALID_PARAM, f"Invalid user ID: {user_id!r}", 400) from None
    if not is_local_id(str(parsed)):
        raise MatrixError(Codes.INVALID_PARAM, "The user is not a user of this server", 400)
    user = stores.user_by_localpart(parsed.localpart)
    if user is None or user.deactivated:
        raise MatrixError(Codes.NOT_FOUND, "No such user", 404)
    return user


def _require_admin(requester: Requester) -> None:
    if not requester.user.admin:
        raise MatrixError(Codes.FORBIDDEN, "You are not a server admin", 403)


def whois(requester: Requester, user_id: str) -> dict:
    """GET /admin/whois/{userId}: a user's devices, each with its session's last connection. Server
    admins may ask of anyone, a user of themselves (the spec allows either restriction)."""
    if requester.user_id != user_id:
        _require_admin(requester)
    user = _local_user(user_id) if requester.user_id != user_id else requester.user
    devices: dict[str, dict] = {}
    for device in stores.devices_of(user):
        connection: dict = {}
        if device.last_seen_ip is not None:
            connection["ip"] = device.last_seen_ip
        if device.last_seen_ts is not None:
            connection["last_seen"] = device.last_seen_ts
        if device.last_seen_user_agent:
            connection["user_agent"] = device.last_seen_user_agent
        devices[device.device_id] = {"sessions": [{"connections": [connection] if connection else []}]}
    return {"user_id": user.user_id, "devices": devices}


def _moderation_target(requester: Requester, user_id: str) -> User:
    _require_admin(requester)
    return _local_user(user_id)


def get_flag(requester: Requester, user_id: str, flag: str) -> dict:
    user = _moderation_target(requester, user_id)
    return {flag: bool(getattr(user, flag))}


def set_flag(requester: Requester, user_id: str, flag: str, value: bool) -> dict:
    """PUT /admin/lock|suspend/{userId}. Spec: an admin may change neither their own account nor another
    admin's (403 M_FORBIDDEN); setting the current value again is a success."""
    user = _moderation_target(requester, user_id)
    if user.pk == requester.user.pk:
        raise MatrixError(Codes.FORBIDDEN, "You cannot change this for your own account", 403)
    if user.admin:
        raise MatrixError(Codes.FORBIDDEN, "Another server admin cannot be locked or suspended", 403)
    if getattr(user, flag) != value:
        User.objects.filter(pk=user.pk).update(**{flag: value})
    return {flag: value}
