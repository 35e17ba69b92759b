"""Every query of the accounts area."""
from __future__ import annotations

import time

from django.core.cache import cache

from .models import AccessToken, Device, User

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
    # A device never seen is always written: the throttle key lives in the shared cache, which can
    # outlive the row (a recreated database reuses primary keys).
    if device.last_seen_ts is not None and cache.get(key):
        return
    cache.set(key, 1, LAST_SEEN_WRITE_INTERVAL_MS // 1000)
    ip = request.META.get("REMOTE_ADDR")
    ua = (request.META.get("HTTP_USER_AGENT") or "")[:512]
    Device.objects.filter(pk=device.pk).update(last_seen_ts=now, last_seen_ip=ip, last_seen_user_agent=ua)
    device.last_seen_ts, device.last_seen_ip, device.last_seen_user_agent = now, ip, ua


# --- users -----------------------------------------------------------------------------------------

def user_by_localpart(localpart: str) -> User | None:
    return User.objects.filter(localpart=localpart).first()


def user_for_login(localpart: str) -> User | None:
    """The account a login names, matching the localpart case-insensitively as Synapse does.

    The exact match is tried first (it uses the unique index); only on a miss is the case-insensitive
    scan made, and it must be unambiguous."""
    exact = User.objects.filter(localpart=localpart).first()
    if exact is not None:
        return exact
    matches = list(User.objects.filter(localpart__iexact=localpart)[:2])
    return matches[0] if len(matches) == 1 else None


def set_profile_fields(user: User, **fields: str | None) -> None:
    for k, v in fields.items():
        setattr(user, k, v)
    User.objects.filter(pk=user.pk).update(**fields)


# --- devices ---------------------------------------------------------------------------------------

def devices_of(user: User) -> list[Device]:
    return list(Device.objects.filter(user=user).order_by("device_id"))


def device_of(user: User, device_id: str) -> Device | None:
    return Device.objects.filter(user=user, device_id=device_id).first()


def existing_device_ids(user: User, device_ids: list[str]) -> set[str]:
    return set(Device.objects.filter(user=user, device_id__in=device_ids).values_list("device_id", flat=True))


def set_device_display_name(device: Device, display_name: str) -> None:
    # A model save, not a queryset update: the e2ee app hears it (post_save) and moves device_lists.
    device.display_name = display_name
    device.save(update_fields=["display_name"])
