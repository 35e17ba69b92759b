"""Rate limits of room actions, Synapse's `rc_message`, `rc_joins` and `rc_invites`, counted in the
shared cache (`apps.core.ratelimit`) so that they hold across every process of a deployment.

Each function counts one action and raises 429 M_LIMIT_EXCEEDED (with `retry_after_ms`) when the
action is over its limit. Callers count only actions that will create an event: a retried
transaction ID, or a join that changes nothing, is not counted.
"""
from __future__ import annotations

from django.conf import settings

from apps.core import ratelimit


def _exempt(user_id: str) -> bool:
    # Users of an application service registered with `rate_limited: false`, and every service's sender
    # (application-service API, registration `rate_limited`).
    from apps.appservice.registry import is_rate_limit_exempt

    return is_rate_limit_exempt(user_id)


def check_message(user_id: str) -> None:
    """`rc_message`: events a user sends (PUT /rooms/{roomId}/send/...)."""
    if _exempt(user_id):
        return
    ratelimit.check(f"rc_message:{user_id}", settings.HS.rc_message)


def check_join(user_id: str, *, remote: bool = False) -> None:
    """`rc_joins.local` (rooms this server is in) or `rc_joins.remote` (joins over federation)."""
    hs = settings.HS
    if _exempt(user_id):
        return
    if remote:
        ratelimit.check(f"rc_joins_remote:{user_id}", hs.rc_joins_remote)
    else:
        ratelimit.check(f"rc_joins_local:{user_id}", hs.rc_joins_local)


def check_invite(room_id: str, inviter: str, invitee: str) -> None:
    """`rc_invites`: per room, per invited user and per inviting user (Synapse's order)."""
    hs = settings.HS
    if _exempt(inviter):
        return
    ratelimit.check(f"rc_invites_room:{room_id}", hs.rc_invites_per_room)
    ratelimit.check(f"rc_invites_user:{invitee}", hs.rc_invites_per_user)
    ratelimit.check(f"rc_invites_issuer:{inviter}", hs.rc_invites_per_issuer)
