"""Periodic clean-up of the accounts tables, run by the `background.expire_tokens` task."""
from __future__ import annotations

import time

from django.db.models import Q

from .models import AccessToken, RefreshToken, UIASession
from .uia import SESSION_LIFETIME_MS

# An expired refreshable access token is kept a while so the client sees soft_logout, not a hard one.
EXPIRED_ACCESS_TOKEN_GRACE_MS = 7 * 24 * 3600 * 1000


def expire_tokens_and_sessions(now_ms: int | None = None) -> dict:
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    access, _ = AccessToken.objects.filter(valid_until_ms__lt=now - EXPIRED_ACCESS_TOKEN_GRACE_MS,
                                           refresh_token__isnull=True).delete()
    refresh, _ = RefreshToken.objects.filter(
        Q(expiry_ts__lt=now) | Q(ultimate_session_expiry_ts__lt=now)).delete()
    uia, _ = UIASession.objects.filter(created_ts__lt=now - SESSION_LIFETIME_MS).delete()
    return {"access_tokens": access, "refresh_tokens": refresh, "uia_sessions": uia}
