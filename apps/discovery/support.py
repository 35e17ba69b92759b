"""The support document, GET /.well-known/matrix/support (client-server API, "Server Discovery";
support.yaml), built from the configuration:

  - `admin_contact` (Synapse's key) is the administrator (`role: m.role.admin`): `mailto:x@y` or a bare
    `x@y` gives `email_address`, a user ID (`@admin:example.org`, possibly of another server) gives
    `matrix_id`; any other form (a web address, a phone number) is no contact the spec can carry.
  - `support_page` (an http(s) URL) is `support_page`.

The spec requires at least one of `contacts` (non-empty) or `support_page`: with neither, there is
no document (404 M_NOT_FOUND).
"""
from __future__ import annotations

import re
from typing import Any

from django.conf import settings

# The user IDs (historical grammar included) and email addresses admin_contact may name.
_USER_ID_RE = re.compile(r"@[\x21-\x39\x3B-\x7E]+:[^\s]+")
_EMAIL_RE = re.compile(r"[^@\s:]+@[^@\s]+")


def admin_contact(value: str | None) -> dict[str, str] | None:
    """The Contact of `admin_contact`, or None when it has no form the spec can publish."""
    if not value:
        return None
    value = value.strip()
    if _USER_ID_RE.fullmatch(value):
        return {"matrix_id": value, "role": "m.role.admin"}
    if value.lower().startswith("mailto:"):
        value = value[len("mailto:"):].split("?", 1)[0]
    if _EMAIL_RE.fullmatch(value):
        return {"email_address": value, "role": "m.role.admin"}
    return None


def support_document() -> dict[str, Any] | None:
    hs = settings.HS
    doc: dict[str, Any] = {}
    contact = admin_contact(hs.admin_contact)
    if contact is not None:
        doc["contacts"] = [contact]
    if hs.support_page:
        doc["support_page"] = hs.support_page
    return doc or None
