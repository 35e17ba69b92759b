"""A local user's profile change, carried to the rooms they are in (client-server API, "Events on Change
of Profile Information"): a new `m.room.member` event (membership `join` kept) with the new
`displayname` / `avatar_url` in every room the user is joined to, one event per room, as Synapse does.
The user directory reads local users' profiles from their accounts, so it follows without work of its own
(remote users' entries come from their join events: apps.user_directory_index).
"""
from __future__ import annotations

import json
import logging

from apps.core.errors import MatrixError

logger = logging.getLogger(__name__)

PROFILE_KEYS = ("displayname", "avatar_url")


def profile_changed(user) -> int:
    """Send the member events for `user`'s (an accounts `User`) current profile; returns how many were
    sent. A room where the event is refused (the auth rules) is logged and skipped: it never undoes the
    profile change nor stops the other rooms."""
    from apps.rooms.auth_rules import AuthError
    from apps.rooms.creation import create_local_event
    from apps.rooms.models import EventRow, RoomMembership

    user_id = user.user_id
    profile = {k: getattr(user, k) for k in PROFILE_KEYS}
    joined = list(RoomMembership.objects.filter(user_id=user_id, membership="join").values_list("room_id", "event_id"))
    contents = dict(EventRow.objects.filter(event_id__in=[e for _, e in joined]).values_list("event_id", "json"))
    sent = 0
    for room_id, event_id in joined:
        old = json.loads(contents[event_id]).get("content", {}) if event_id in contents else {}
        if not isinstance(old, dict):
            old = {}
        # The profile replaces what the old event said; a restricted-join authorisation is about joining,
        # not about this join -> join change, so it is not carried over.
        new = {k: v for k, v in old.items() if k not in PROFILE_KEYS and k != "join_authorised_via_users_server"}
        new["membership"] = "join"
        new.update({k: v for k, v in profile.items() if v})
        if new == old:
            continue
        try:
            create_local_event(user_id, room_id, {"type": "m.room.member", "state_key": user_id, "content": new})
            sent += 1
        except (MatrixError, AuthError) as e:
            logger.warning("profile change of %s not sent to %s: %s", user_id, room_id, e)
    return sent
