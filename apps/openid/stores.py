"""Database access of OpenID tokens."""
from __future__ import annotations

from .models import OpenIdToken


def add_token(token_hash: str, user_id: str, valid_until_ms: int) -> None:
    OpenIdToken.objects.create(token_hash=token_hash, user_id=user_id, valid_until_ms=valid_until_ms)


def user_for_token(token_hash: str, now_ms: int) -> str | None:
    return (OpenIdToken.objects.filter(token_hash=token_hash, valid_until_ms__gt=now_ms)
            .values_list("user_id", flat=True).first())


def delete_expired(now_ms: int) -> int:
    return OpenIdToken.objects.filter(valid_until_ms__lte=now_ms).delete()[0]
