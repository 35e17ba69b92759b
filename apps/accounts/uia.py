"""User-interactive authentication (spec: client-server API, "User-Interactive Authentication API").

`check_auth(body, flows, ...)` either returns the results of a completed flow or raises
`InteractiveAuthRequired` with the 401 body (`flows`, `params`, `session`, `completed`, and
`errcode`/`error` when a stage just failed). Sessions live in the database so that a client may continue
one on any process; a session is bound to the URI and method that started it.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any, Callable

from django.conf import settings
from django.db.models import F, Q

from apps.core import ratelimit
from apps.core.errors import Codes, InteractiveAuthRequired, MatrixError

from .models import RegistrationToken, UIASession, User

DUMMY = "m.login.dummy"
PASSWORD = "m.login.password"
REGISTRATION_TOKEN = "m.login.registration_token"

SESSION_LIFETIME_MS = 2 * 24 * 3600 * 1000


@dataclass
class StageContext:
    session: UIASession
    requester_user: User | None
    request: Any


class StageFailed(Exception):
    def __init__(self, errcode: str, error: str):
        super().__init__(error)
        self.errcode = errcode
        self.error = error


def _now_ms() -> int:
    return int(time.time() * 1000)


def _stage_dummy(auth: dict, ctx: StageContext) -> Any:
    return True


def password_identifier_localpart(auth: dict) -> str | None:
    """The localpart named by an `m.id.user` identifier or the legacy `user` field, or None."""
    from .backends import localpart_of

    ident = auth.get("identifier")
    if isinstance(ident, dict):
        if ident.get("type") != "m.id.user":
            raise StageFailed(Codes.UNKNOWN, "Only m.id.user identifiers are supported")
        user = ident.get("user")
    else:
        user = auth.get("user")
    if not isinstance(user, str) or not user:
        raise StageFailed(Codes.MISSING_PARAM, "Missing user identifier")
    return localpart_of(user)


def _stage_password(auth: dict, ctx: StageContext) -> Any:
    password = auth.get("password")
    if not isinstance(password, str):
        raise StageFailed(Codes.MISSING_PARAM, "Missing password")
    localpart = password_identifier_localpart(auth)
    user = ctx.requester_user
    if user is None or localpart is None or localpart.lower() != user.localpart.lower():
        raise StageFailed(Codes.FORBIDDEN, "Invalid username or password")
    if not settings.HS.password_enabled or not user.check_password(password):
        # Failed guesses count against rc_login.failed_attempts; past it the client gets a 429.
        ratelimit.check(f"login-failed:{user.localpart}", settings.HS.rc_login_failed_attempts)
        raise StageFailed(Codes.FORBIDDEN, "Invalid username or password")
    return user.user_id


def _storable(token: str) -> bool:
    # No stored token is longer than the column or holds NUL (which PostgreSQL cannot even compare).
    return 0 < len(token) <= 64 and "\x00" not in token


def registration_token_valid(token: str) -> bool:
    if not _storable(token):
        return False
    now = _now_ms()
    row = RegistrationToken.objects.filter(token=token).first()
    if row is None:
        return False
    if row.expiry_time is not None and row.expiry_time < now:
        return False
    if row.uses_allowed is not None and row.pending + row.completed >= row.uses_allowed:
        return False
    return True


def _stage_registration_token(auth: dict, ctx: StageContext) -> Any:
    token = auth.get("token")
    if not isinstance(token, str) or not token:
        raise StageFailed(Codes.MISSING_PARAM, "Missing registration token")
    if not _storable(token):
        raise StageFailed(Codes.UNAUTHORIZED, "Invalid registration token")
    # Counted as pending until the registration completes, so a token's last use cannot be raced: the
    # check and the count are one conditional UPDATE (re-evaluated under the row lock on PostgreSQL).
    counted = (RegistrationToken.objects
               .filter(token=token)
               .filter(Q(expiry_time__isnull=True) | Q(expiry_time__gte=_now_ms()))
               .filter(Q(uses_allowed__isnull=True) | Q(uses_allowed__gt=F("pending") + F("completed")))
               .update(pending=F("pending") + 1))
    if not counted:
        raise StageFailed(Codes.UNAUTHORIZED, "Invalid registration token")
    return token


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


STAGES: dict[str, Callable[[dict, StageContext], Any]] = {
    DUMMY: _stage_dummy,
    PASSWORD: _stage_password,
    REGISTRATION_TOKEN: _stage_registration_token,
}


def complete_registration_token(token: str) -> None:
    """A registration that used `token` has completed: move its use from pending to completed."""
    RegistrationToken.objects.filter(token=token, pending__gt=0).update(
        pending=F("pending") - 1, completed=F("completed") + 1)


def _challenge(session: UIASession, flows: list[list[str]], params: dict, error: StageFailed | None = None):
    body: dict[str, Any] = {
        "flows": [{"stages": f} for f in flows],
        "params": params,
        "session": session.session_id,
        "completed": list(session.completed.keys()),
    }
    if error is not None:
        body["errcode"] = error.errcode
        body["error"] = error.error
    return InteractiveAuthRequired(body)


# Keys of a session's client dict that only the server writes: a client sending one is ignored.
SERVER_KEY_PREFIX = "_hs_"


def _client_fields(body: dict) -> dict:
    return {k: v for k, v in body.items() if k != "auth" and not k.startswith(SERVER_KEY_PREFIX)}


def check_auth(
    body: dict,
    *,
    flows: list[list[str]],
    request,
    requester_user: User | None = None,
    params: dict | None = None,
    description: str = "",
    store_transform: Callable[[dict], dict] | None = None,
) -> tuple[dict[str, Any], dict, str]:
    """Run one round of UIA. Returns (completed stage results, the client dict of the first request,
    session id) once a flow is complete; raises `InteractiveAuthRequired` otherwise."""
    params = params or {}
    auth = body.get("auth")
    if auth is not None and not isinstance(auth, dict):
        raise MatrixError(Codes.BAD_JSON, "auth must be an object", 400)
    uri, method = request.path, request.method
    session: UIASession | None = None
    session_id = (auth or {}).get("session")
    if session_id is not None:
        if not isinstance(session_id, str):
            raise MatrixError(Codes.BAD_JSON, "auth.session must be a string", 400)
        if len(session_id) <= 64 and "\x00" not in session_id:
            session = UIASession.objects.filter(session_id=session_id).first()
        if session is None or session.created_ts + SESSION_LIFETIME_MS < _now_ms():
            raise MatrixError(Codes.UNKNOWN, "Unknown or expired UIA session", 400)
        if session.uri != uri or session.method != method:
            raise MatrixError(Codes.FORBIDDEN, "UIA session was started for a different request", 403)
    if session is None:
        clientdict = _client_fields(body)
        if store_transform is not None:
            # Secrets (a new password) are not written to the session table as sent: the caller stores
            # what it needs instead (a hash), under a server-only key (SERVER_KEY_PREFIX).
            clientdict = store_transform(clientdict)
        if _has_nul(clientdict):
            # PostgreSQL's jsonb cannot store U+0000; no Matrix parameter needs it.
            raise MatrixError(Codes.BAD_JSON, "Strings may not contain NUL characters", 400)
        session = UIASession.objects.create(
            session_id=secrets.token_urlsafe(24), uri=uri, method=method, clientdict=clientdict,
            completed={}, description=description, created_ts=_now_ms())
    if not auth:
        raise _challenge(session, flows, params)

    stage_type = auth.get("type")
    if stage_type is not None:
        allowed = {s for f in flows for s in f}
        if stage_type not in allowed or stage_type not in STAGES:
            raise _challenge(session, flows, params, StageFailed(Codes.UNRECOGNIZED, f"Unrecognised login type {stage_type}"))
        if stage_type not in session.completed:
            try:
                result = STAGES[stage_type](auth, StageContext(session, requester_user, request))
            except StageFailed as failed:
                raise _challenge(session, flows, params, failed) from None
            session.completed = {**session.completed, stage_type: result}
            UIASession.objects.filter(pk=session.pk).update(completed=session.completed)

    done = set(session.completed)
    for flow in flows:
        if set(flow) <= done:
            # A session authorises one operation only.
            UIASession.objects.filter(pk=session.pk).delete()
            clientdict = {**session.clientdict, **_client_fields(body)}
            return dict(session.completed), clientdict, session.session_id
    raise _challenge(session, flows, params)
