"""OpenID tokens: short-lived proofs of a local user's identity that a third party exchanges with this
server over federation (spec: Client-Server API "OpenID", Server-Server API "OpenID")."""
from __future__ import annotations

from django.db import models


class OpenIdToken(models.Model):
    # SHA-256 of the token: a leaked database does not hand out identities.
    token_hash = models.CharField(max_length=64, primary_key=True)
    user_id = models.CharField(max_length=255)
    valid_until_ms = models.BigIntegerField(db_index=True)

    class Meta:
        db_table = "openid_tokens"

    def __str__(self) -> str:
        return f"OpenID token of {self.user_id}"
