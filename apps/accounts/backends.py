"""Django authentication backend: lets a server admin sign in to the admin console with their Matrix
user ID (or localpart) and password."""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth.backends import BaseBackend

from .models import User


def localpart_of(identifier: str) -> str | None:
    """`@alice:server` or `alice` -> `alice` when it names a user of this server, else None."""
    identifier = identifier.strip()
    if identifier.startswith("@"):
        local, _, domain = identifier[1:].partition(":")
        if domain != settings.HS.server_name:
            return None
        return local
    return identifier


class MatrixUserBackend(BaseBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if not username or password is None:
            return None
        localpart = localpart_of(username)
        if localpart is None:
            return None
        user = User.objects.filter(localpart=localpart.lower()).first() or User.objects.filter(localpart=localpart).first()
        if user is None or user.deactivated or not user.check_password(password):
            return None
        return user

    def get_user(self, user_id):
        return User.objects.filter(pk=user_id, deactivated=False).first()
