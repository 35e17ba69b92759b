"""Start-up check: a signing key file that exists but cannot be read stops the server before it serves.

A missing file is fine: it is generated on first use (see signing.py)."""
from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core import checks

from . import signing


@checks.register(checks.Tags.security)
def check_signing_key(app_configs=None, **kwargs):
    path = Path(settings.HS.signing_key_path)
    if not path.exists():
        return []
    try:
        signing.read_key_file(path)
    except signing.SigningKeyError as e:
        return [checks.Error(str(e), hint="Restore the key file, or remove it to generate a new key "
                             "(other servers will then see a new server key).", id="hsproject.E100")]
    return []
