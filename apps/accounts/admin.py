"""The operator's console at /admin for local accounts: users, devices, tokens, registration tokens.

Only server admins (`User.admin`, not deactivated) may sign in, with their Matrix user ID or localpart
(`apps.accounts.backends.MatrixUserBackend`). Account changes with side effects (deactivation, password
reset, logging out a device or a token) go through `apps.accounts.lifecycle`, the same functions the
client and admin APIs use, never through raw field edits.

Tokens are only ever shown by their prefix: the database holds a hash, and the console must not help
anyone reconstruct or copy a live credential.
"""
from __future__ import annotations

import datetime as dt
import re
import secrets
import string

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.template import engines
from django.template.response import TemplateResponse

from .models import AccessToken, Device, RefreshToken, RegistrationToken, User

# spec: client-server API, "Token-authenticated registration": [A-Za-z0-9._~-]{1,64}
REGISTRATION_TOKEN_RE = re.compile(r"[A-Za-z0-9._~\-]{1,64}")
_TOKEN_ALPHABET = string.ascii_letters + string.digits


def format_ms(ms: int | None) -> str:
    if ms is None:
        return "—"
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def new_password() -> str:
    return secrets.token_urlsafe(15)


# The page shown once after "reset password": the new passwords are rendered into this response only
# (never into a message, whose storage may be a cookie).
_PASSWORDS_PAGE = engines["django"].from_string("""\
{% extends "admin/base_site.html" %}
{% block content %}
<p>New passwords. They are shown only on this page: give each to its user now. Every device of these
users has been logged out.</p>
<table>
  <thead><tr><th>User</th><th>New password</th></tr></thead>
  <tbody>{% for user_id, password in rows %}<tr><td>{{ user_id }}</td><td><code>{{ password }}</code></td></tr>{% endfor %}</tbody>
</table>
<p><a href="{{ back }}">Back to users</a></p>
{% endblock %}
""")


class UserCreationForm(forms.ModelForm):
    password = forms.CharField(widget=forms.PasswordInput, required=False, strip=False,
                               help_text="Leave empty for an account that cannot log in with a password.")

    class Meta:
        model = User
        fields = ("localpart", "admin", "displayname")

    def clean_localpart(self) -> str:
        from apps.core.errors import MatrixError
        from apps.core.ids import check_new_localpart

        localpart = self.cleaned_data["localpart"]
        try:
            check_new_localpart(localpart, settings.HS.server_name)
        except MatrixError as e:
            raise ValidationError(e.error) from None
        return localpart

    def save(self, commit: bool = True) -> User:
        user = super().save(commit=False)
        if self.cleaned_data.get("password"):
            user.set_password(self.cleaned_data["password"])
        else:
            user.set_unusable_password()
        if commit:
            user.save()
        return user


class DeviceInline(admin.TabularInline):
    model = Device
    fields = ("device_id", "display_name", "last_seen", "last_seen_ip")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    @admin.display(description="last seen")
    def last_seen(self, obj: Device) -> str:
        return format_ms(obj.last_seen_ts)

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ("user_id", "admin", "deactivated", "locked", "suspended", "is_guest", "created_at")
    list_filter = ("admin", "deactivated", "locked", "suspended", "is_guest")
    search_fields = ("localpart",)
    ordering = ("localpart",)
    actions = ("deactivate_users", "reset_passwords", "lock_users", "unlock_users", "suspend_users",
               "unsuspend_users")
    inlines = (DeviceInline,)
    fields = ("user_id", "admin", "deactivated", "locked", "suspended", "is_guest", "user_type", "displayname",
              "avatar_url", "appservice_id", "created_at", "last_login")
    readonly_fields = ("user_id", "deactivated", "is_guest", "appservice_id", "created_at", "last_login")

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = UserCreationForm
            kwargs["fields"] = ("localpart", "password", "admin", "displayname")
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        return ("localpart", "password", "admin", "displayname") if obj is None else self.fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else ()

    def has_delete_permission(self, request, obj=None) -> bool:
        # A Matrix user ID must never be reused: deactivate instead of deleting.
        return False

    @admin.display(description="user ID", ordering="localpart")
    def user_id(self, obj: User) -> str:
        return obj.user_id

    @admin.action(description="Deactivate selected users")
    def deactivate_users(self, request, queryset):
        # Locked out at once; leaving their rooms (and the rest) is a background job each (apps.jobs),
        # whose progress the Jobs page shows.
        from apps.jobs.deactivation import deactivate_account

        jobs = []
        for user in queryset.filter(deactivated=False):
            if user.pk == request.user.pk:
                self.message_user(request, "You cannot deactivate your own account here.", messages.WARNING)
                continue
            jobs.append(deactivate_account(user))
        if not jobs:
            self.message_user(request, "Deactivated 0 user(s).", messages.SUCCESS)
            return
        self.message_user(request, f"Deactivated {len(jobs)} user(s); their rooms are left by background "
                                   f"job(s) {', '.join(f'#{j.pk}' for j in jobs)} (see Jobs).", messages.SUCCESS)

    def _set_flag(self, request, queryset, flag: str, value: bool, verb: str) -> None:
        # As the client-server admin API (apps.accounts.moderation): never yourself, never another admin.
        targets = queryset.filter(deactivated=False).exclude(pk=request.user.pk)
        if value:
            targets = targets.exclude(admin=True)
        n = targets.update(**{flag: value})
        self.message_user(request, f"{verb} {n} user(s) (never yourself or, to lock or suspend, another admin).",
                          messages.SUCCESS)

    @admin.action(description="Lock selected users (every request refused, sessions kept)")
    def lock_users(self, request, queryset):
        self._set_flag(request, queryset, "locked", True, "Locked")

    @admin.action(description="Unlock selected users")
    def unlock_users(self, request, queryset):
        self._set_flag(request, queryset, "locked", False, "Unlocked")

    @admin.action(description="Suspend selected users (read-only: no joining, inviting, sending)")
    def suspend_users(self, request, queryset):
        self._set_flag(request, queryset, "suspended", True, "Suspended")

    @admin.action(description="Unsuspend selected users")
    def unsuspend_users(self, request, queryset):
        self._set_flag(request, queryset, "suspended", False, "Unsuspended")

    @admin.action(description="Reset password (shows a new random password once)")
    def reset_passwords(self, request, queryset):
        from .lifecycle import set_password

        rows = []
        for user in queryset.filter(deactivated=False):
            password = new_password()
            set_password(user, password, logout_devices=True)
            rows.append((user.user_id, password))
        if not rows:
            self.message_user(request, "No active user selected.", messages.WARNING)
            return None
        context = {**self.admin_site.each_context(request), "title": "New passwords", "rows": rows,
                   "back": request.get_full_path()}
        response = TemplateResponse(request, _PASSWORDS_PAGE, context)
        response["Cache-Control"] = "no-store"
        return response


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ("device_id", "user", "display_name", "last_seen", "last_seen_ip", "created_at")
    list_select_related = ("user",)
    search_fields = ("device_id", "user__localpart", "display_name")
    fields = ("user", "device_id", "display_name", "last_seen", "last_seen_ip", "last_seen_user_agent",
              "created_at")
    readonly_fields = ("user", "device_id", "last_seen", "last_seen_ip", "last_seen_user_agent", "created_at")

    @admin.display(description="last seen", ordering="last_seen_ts")
    def last_seen(self, obj: Device) -> str:
        return format_ms(obj.last_seen_ts)

    def has_add_permission(self, request) -> bool:
        return False  # devices are created by logging in

    # Deleting a device logs it out (its tokens go with it), through the same path as the client API.
    def delete_model(self, request, obj: Device) -> None:
        from .lifecycle import delete_devices

        delete_devices(obj.user, [obj.device_id])

    def delete_queryset(self, request, queryset) -> None:
        from .lifecycle import delete_devices

        for device in queryset.select_related("user"):
            delete_devices(device.user, [device.device_id])


class _TokenAdmin(admin.ModelAdmin):
    """Read-only view of a token table; deleting a row revokes the token. Never shows the hash."""

    list_select_related = ("user", "device")
    search_fields = ("user__localpart", "token_prefix")

    @admin.display(description="token", ordering="token_prefix")
    def token(self, obj) -> str:
        return f"{obj.token_prefix}…"

    @admin.display(description="device", ordering="device__device_id")
    def device_id(self, obj) -> str:
        return obj.device.device_id if obj.device_id is not None else "—"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AccessToken)
class AccessTokenAdmin(_TokenAdmin):
    list_display = ("token", "user", "device_id", "valid_until", "used", "created_at")
    fields = ("token", "user", "device_id", "valid_until", "used", "created_at")
    readonly_fields = fields

    @admin.display(description="valid until", ordering="valid_until_ms")
    def valid_until(self, obj: AccessToken) -> str:
        return format_ms(obj.valid_until_ms)

    def delete_model(self, request, obj: AccessToken) -> None:
        # Revoke this token only; the device stays (an admin revoking one token is not a /logout).
        AccessToken.objects.filter(pk=obj.pk).delete()


@admin.register(RefreshToken)
class RefreshTokenAdmin(_TokenAdmin):
    list_display = ("token", "user", "device_id", "expires", "session_expires", "created_at")
    fields = ("token", "user", "device_id", "expires", "session_expires", "created_at")
    readonly_fields = fields

    @admin.display(description="expires", ordering="expiry_ts")
    def expires(self, obj: RefreshToken) -> str:
        return format_ms(obj.expiry_ts)

    @admin.display(description="session expires", ordering="ultimate_session_expiry_ts")
    def session_expires(self, obj: RefreshToken) -> str:
        return format_ms(obj.ultimate_session_expiry_ts)


class RegistrationTokenForm(forms.ModelForm):
    token = forms.CharField(required=False, max_length=64,
                            help_text="Leave empty to generate a random token. Letters, digits and ._~- only.")
    expiry_time = forms.IntegerField(required=False, min_value=0,
                                     help_text="Milliseconds since the epoch; empty for no expiry.")
    uses_allowed = forms.IntegerField(required=False, min_value=0, help_text="Empty for unlimited.")

    class Meta:
        model = RegistrationToken
        fields = ("token", "uses_allowed", "expiry_time")

    def clean_token(self) -> str:
        token = self.cleaned_data.get("token") or ""
        if self.instance.pk is not None:
            return self.instance.token  # a token's text never changes once handed out
        if not token:
            for _ in range(10):
                token = "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(16))
                if not RegistrationToken.objects.filter(token=token).exists():
                    break
        if not REGISTRATION_TOKEN_RE.fullmatch(token):
            raise ValidationError("Use 1 to 64 characters from A-Z, a-z, 0-9 and ._~-")
        return token


@admin.register(RegistrationToken)
class RegistrationTokenAdmin(admin.ModelAdmin):
    form = RegistrationTokenForm
    list_display = ("token", "uses_allowed", "pending", "completed", "expires", "valid")
    search_fields = ("token",)

    def get_fields(self, request, obj=None):
        return ("token", "uses_allowed", "expiry_time", "expires", "pending", "completed")

    def get_readonly_fields(self, request, obj=None):
        base = ("expires", "pending", "completed")
        return base + ("token",) if obj is not None else base

    @admin.display(description="expires", ordering="expiry_time")
    def expires(self, obj: RegistrationToken) -> str:
        return format_ms(obj.expiry_time) if obj and obj.pk else "—"

    @admin.display(description="valid", boolean=True)
    def valid(self, obj: RegistrationToken) -> bool:
        from .lifecycle import now_ms

        if obj.expiry_time is not None and obj.expiry_time <= now_ms():
            return False
        return obj.uses_allowed is None or obj.pending + obj.completed < obj.uses_allowed
