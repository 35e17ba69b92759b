"""Every query of the accounts area."""
from __future__ import annotations

import time

from django.core.cache import cache

from .models import AccessToken, Device

# Writing last-seen on every request would make each request a write; once a minute per device is enough.
LAST_SEEN_WRITE_INTERVAL_MS = 60_000


def access_token_by_hash(digest: str) -> AccessToken | None:
    return (AccessToken.objects.select_related("user", "device", "refresh_token")
            .filter(token_hash=digest).first())


def mark_access_token_used(token: AccessToken) -> None:
    """The first use of a refreshed access token retires the refresh token it replaced (spec: refresh)."""
    from .models import RefreshToken

    AccessToken.objects.filter(pk=token.pk).update(used=True)
    token.used = True
    if token.refresh_token_id:
        # The refresh token whose exchange produced this pair is now spent, with its access tokens.
        old = RefreshToken.objects.filter(next_token_id=token.refresh_token_id)
        AccessToken.objects.filter(refresh_token__in=old).delete()
        old.delete()


def touch_device(device: Device, request) -> None:
    now = int(time.time() * 1000)
    key = f"device-seen:{device.pk}"
    if cache.get(key):
        return
    cache.set(key, 1, LAST_SEEN_WRITE_INTERVAL_MS // 1000)
    ip = request.META.get("REMOTE_ADDR")
    ua = (request.META.get("HTTP_USER_AGENT") or "")[:512]
    Device.objects.filter(pk=device.pk).update(last_seen_ts=now, last_seen_ip=ip, last_seen_user_agent=ua)
    device.last_seen_ts, device.last_seen_ip, device.last_seen_user_agent = now, ip, ua
