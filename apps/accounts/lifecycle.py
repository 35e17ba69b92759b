"""Account lifecycle actions shared by the client API, the admin API and the Django admin:
issuing a login session (device + tokens), logging out, changing a password, deactivating."""
from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from .models import AccessToken, Device, RefreshToken, User
from .tokens import new_access_token, new_device_id, new_refresh_token, token_hash, token_prefix


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class IssuedSession:
    user_id: str
    device_id: str
    access_token: str
    refresh_token: str | None
    expires_in_ms: int | None

    def as_login_response(self) -> dict:
        out = {"user_id": self.user_id, "device_id": self.device_id, "access_token": self.access_token,
               "home_server": settings.HS.server_name}
        if self.refresh_token is not None:
            out["refresh_token"] = self.refresh_token
        if self.expires_in_ms is not None:
            out["expires_in_ms"] = self.expires_in_ms
        return out


def get_or_create_device(user: User, device_id: str | None, display_name: str | None) -> Device:
    if device_id is None:
        for _ in range(10):
            candidate = new_device_id()
            if not Device.objects.filter(user=user, device_id=candidate).exists():
                device_id = candidate
                break
    device, created = Device.objects.get_or_create(user=user, device_id=device_id,
                                                   defaults={"display_name": display_name})
    if not created and display_name is not None and device.display_name != display_name:
        device.display_name = display_name
        device.save(update_fields=["display_name"])
    return device


def _new_token_pair(user: User, device: Device, refreshable: bool) -> tuple[str, str | None, int | None, RefreshToken | None]:
    hs = settings.HS
    access = new_access_token(user.localpart)
    refresh_row = None
    refresh = None
    if refreshable:
        lifetime = hs.refreshable_access_token_lifetime_ms
        refresh = new_refresh_token(user.localpart)
        refresh_expiry = now_ms() + hs.refresh_token_lifetime_ms if hs.refresh_token_lifetime_ms else None
        session_expiry = now_ms() + hs.session_lifetime_ms if hs.session_lifetime_ms else None
        refresh_row = RefreshToken.objects.create(user=user, device=device, token_hash=token_hash(refresh),
                                                  token_prefix=token_prefix(refresh), expiry_ts=refresh_expiry,
                                                  ultimate_session_expiry_ts=session_expiry)
    else:
        lifetime = hs.nonrefreshable_access_token_lifetime_ms
    valid_until = now_ms() + lifetime if lifetime else None
    AccessToken.objects.create(user=user, device=device, token_hash=token_hash(access), token_prefix=token_prefix(access),
                               valid_until_ms=valid_until, refresh_token=refresh_row)
    return access, refresh, lifetime, refresh_row


@transaction.atomic
def issue_session(user: User, *, device_id: str | None = None, display_name: str | None = None,
                  refreshable: bool = False) -> IssuedSession:
    """Log `user` in on a (new or existing) device. Re-using a device id replaces its old tokens,
    as the spec asks of `/login` with a known `device_id`."""
    device = get_or_create_device(user, device_id, display_name)
    AccessToken.objects.filter(device=device).delete()
    RefreshToken.objects.filter(device=device).delete()
    access, refresh, lifetime, _ = _new_token_pair(user, device, refreshable)
    return IssuedSession(user.user_id, device.device_id, access, refresh, lifetime)


@transaction.atomic
def refresh_session(refresh_token: str) -> IssuedSession | None:
    """Exchange a refresh token for a new pair; None if it is unknown, spent or expired.

    Spec (client-server API, "Refreshing access tokens"): the old refresh token stays valid until the new
    access token is first used, so a client that lost the response can retry.
    """
    # `of=("self",)`: PostgreSQL cannot lock the nullable side of the outer join to the device.
    row = (RefreshToken.objects.select_for_update(of=("self",)).select_related("user", "device")
           .filter(token_hash=token_hash(refresh_token)).first())
    if row is None or row.user.deactivated:
        return None
    if row.user.locked:
        from .auth import locked

        raise locked()  # spec: no new access token for a locked account (its refresh token stays valid)
    now = now_ms()
    if (row.expiry_ts is not None and row.expiry_ts < now) or (
            row.ultimate_session_expiry_ts is not None and row.ultimate_session_expiry_ts < now):
        return None
    # Spec: the old refresh token is revoked once the new access token *or refresh token* is used, so
    # using this token retires the one it replaced (and that one's access tokens, by cascade).
    RefreshToken.objects.filter(next_token_id=row.pk).delete()
    if row.next_token_id is not None:
        # Retried exchange: drop the unused pair issued last time, then issue afresh.
        RefreshToken.objects.filter(pk=row.next_token_id).delete()
    access, refresh, lifetime, new_row = _new_token_pair(row.user, row.device, True)
    new_row.ultimate_session_expiry_ts = row.ultimate_session_expiry_ts
    new_row.save(update_fields=["ultimate_session_expiry_ts"])
    row.next_token = new_row
    row.save(update_fields=["next_token"])
    return IssuedSession(row.user.user_id, row.device.device_id, access, refresh, lifetime)


@transaction.atomic
def delete_devices(user: User, device_ids: list[str]) -> None:
    """Delete devices and every token issued to them (spec: deleting a device logs it out)."""
    Device.objects.filter(user=user, device_id__in=device_ids).delete()


@transaction.atomic
def logout_token(token: AccessToken) -> None:
    """`/logout`: invalidates the token and deletes its device (spec)."""
    if token.device_id is not None:
        Device.objects.filter(pk=token.device_id).delete()
    else:
        AccessToken.objects.filter(pk=token.pk).delete()


@transaction.atomic
def logout_all(user: User) -> None:
    Device.objects.filter(user=user).delete()
    AccessToken.objects.filter(user=user).delete()
    RefreshToken.objects.filter(user=user).delete()


@transaction.atomic
def set_password(user: User, new_password: str | None, *, logout_devices: bool = True,
                 keep_device_id: str | None = None, keep_access_token_id: int | None = None,
                 password_hash: str | None = None) -> None:
    """Change the password; with `logout_devices`, every other device is logged out (spec default).

    Spec (changePassword): "all access tokens for the user, except the one used for the request"; the
    requester's device is kept with it, as Synapse does."""
    if new_password is not None:
        user.set_password(new_password)
    elif password_hash is not None:
        user.password = password_hash
    else:
        raise ValueError("set_password needs a password or a password hash")
    user.save(update_fields=["password"])
    if logout_devices:
        devices = Device.objects.filter(user=user)
        if keep_device_id is not None:
            devices = devices.exclude(device_id=keep_device_id)
        devices.delete()
        tokens = AccessToken.objects.filter(user=user)
        if keep_access_token_id is not None:
            tokens = tokens.exclude(pk=keep_access_token_id)
        elif keep_device_id is not None:
            tokens = tokens.exclude(device__device_id=keep_device_id)
        tokens.delete()


@transaction.atomic
def deactivate_user(user: User) -> None:
    """Deactivate: no more logins, every session ended, profile cleared (room leaves come with rooms)."""
    user.deactivated = True
    user.set_unusable_password()
    user.displayname = None
    user.avatar_url = None
    user.save(update_fields=["deactivated", "password", "displayname", "avatar_url"])
    logout_all(user)
