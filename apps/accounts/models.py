"""Tables of local accounts: users, devices, access/refresh tokens, registration tokens, UIA sessions.

Tokens are never stored: only their SHA-256 (lookup) and a short prefix (for the admin to recognise one).
"""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models


class UserManager(BaseUserManager):
    def create_user(self, localpart: str, password: str | None = None, **extra):
        user = self.model(localpart=localpart, **extra)
        if password is None:
            user.set_unusable_password()
        else:
            user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, localpart: str, password: str | None = None, **extra):
        extra.setdefault("admin", True)
        return self.create_user(localpart, password, **extra)


class User(AbstractBaseUser):
    """A local Matrix account. `user_id` is `@localpart:server_name`."""

    localpart = models.CharField(max_length=255, unique=True)
    admin = models.BooleanField(default=False, help_text="Server admin: may use the admin API and this console.")
    is_guest = models.BooleanField(default=False)
    deactivated = models.BooleanField(default=False)
    # Account moderation (client-server API "Account locking" / "Account suspension"): both reversible.
    # Locked: every request but logout answers 401 M_USER_LOCKED, and no new token is issued.
    locked = models.BooleanField(default=False, help_text="Locked: no use of the account until unlocked.")
    # Suspended: may read, leave and log out, not join, invite, send or change the profile.
    suspended = models.BooleanField(default=False, help_text="Suspended: read-only until unsuspended.")
    user_type = models.CharField(max_length=32, null=True, blank=True)
    displayname = models.CharField(max_length=512, null=True, blank=True)
    avatar_url = models.CharField(max_length=512, null=True, blank=True)
    appservice_id = models.CharField(max_length=255, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = UserManager()

    USERNAME_FIELD = "localpart"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        db_table = "users"
        ordering = ("localpart",)

    def __str__(self) -> str:
        return self.user_id

    @property
    def user_id(self) -> str:
        return f"@{self.localpart}:{settings.HS.server_name}"

    # Django admin access: server admins whose account is active.
    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return not self.deactivated

    @property
    def is_staff(self) -> bool:
        return self.admin and not self.deactivated

    @property
    def is_superuser(self) -> bool:
        return self.is_staff

    def has_perm(self, perm, obj=None) -> bool:
        return self.is_staff

    def has_perms(self, perm_list, obj=None) -> bool:
        return self.is_staff

    def has_module_perms(self, app_label) -> bool:
        return self.is_staff


class Device(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="devices")
    device_id = models.CharField(max_length=255)
    display_name = models.CharField(max_length=512, null=True, blank=True)
    last_seen_ts = models.BigIntegerField(null=True, blank=True)
    last_seen_ip = models.CharField(max_length=64, null=True, blank=True)
    last_seen_user_agent = models.CharField(max_length=512, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "devices"
        constraints = [models.UniqueConstraint(fields=["user", "device_id"], name="devices_user_device_uniq")]

    def __str__(self) -> str:
        return f"{self.device_id} of {self.user.user_id}"


class RefreshToken(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="refresh_tokens")
    device = models.ForeignKey(Device, on_delete=models.CASCADE, null=True, related_name="refresh_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    token_prefix = models.CharField(max_length=16)
    # Set once this token has been exchanged; the old pair stays usable until the new pair is used.
    next_token = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    expiry_ts = models.BigIntegerField(null=True, blank=True)
    ultimate_session_expiry_ts = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "refresh_tokens"


class AccessToken(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="access_tokens")
    device = models.ForeignKey(Device, on_delete=models.CASCADE, null=True, blank=True, related_name="access_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    token_prefix = models.CharField(max_length=16, help_text="The first characters, to recognise a token.")
    valid_until_ms = models.BigIntegerField(null=True, blank=True)
    refresh_token = models.ForeignKey(RefreshToken, on_delete=models.CASCADE, null=True, blank=True,
                                      related_name="access_tokens")
    used = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "access_tokens"

    def __str__(self) -> str:
        return f"{self.token_prefix}… ({self.user.user_id})"


class RegistrationToken(models.Model):
    """`m.login.registration_token` tokens (spec: client-server API, Token-authenticated registration)."""

    token = models.CharField(max_length=64, unique=True)
    uses_allowed = models.IntegerField(null=True, blank=True, help_text="Empty for unlimited.")
    pending = models.IntegerField(default=0)
    completed = models.IntegerField(default=0)
    expiry_time = models.BigIntegerField(null=True, blank=True, help_text="Milliseconds since the epoch.")

    class Meta:
        db_table = "registration_tokens"

    def __str__(self) -> str:
        return self.token


class UIASession(models.Model):
    """A user-interactive auth session; kept in the database so any process can continue it."""

    session_id = models.CharField(max_length=64, unique=True)
    uri = models.CharField(max_length=1024)
    method = models.CharField(max_length=8)
    clientdict = models.JSONField(default=dict)
    completed = models.JSONField(default=dict)  # stage -> result (e.g. the user id authenticated)
    description = models.CharField(max_length=255, blank=True, default="")
    created_ts = models.BigIntegerField()

    class Meta:
        db_table = "ui_auth_sessions"
