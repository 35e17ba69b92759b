"""The server's password policy (`password_config.policy`, Synapse's keys), shared by registration,
password change and the admin paths.

`check_password_policy(password)` raises the spec's error for the first rule the password breaks
(client-server API, "Notes on password management": `M_PASSWORD_TOO_SHORT`, `M_PASSWORD_NO_DIGIT`,
`M_PASSWORD_NO_UPPERCASE`, `M_PASSWORD_NO_LOWERCASE`, `M_PASSWORD_NO_SYMBOL`, all 400).
`policy_description()` is the body of Synapse's `GET /_matrix/client/v3/password_policy`.
"""
from __future__ import annotations

import re

from django.conf import settings

from apps.core.errors import Codes, MatrixError

# As Synapse: a longer password is refused whatever the policy (it only costs hashing time).
MAX_PASSWORD_LENGTH = 512

_DIGIT = re.compile(r"[0-9]")
_SYMBOL = re.compile(r"[^a-zA-Z0-9]")
_UPPERCASE = re.compile(r"[A-Z]")
_LOWERCASE = re.compile(r"[a-z]")


def check_password_shape(password: object) -> str:
    """A password must be a string of at most MAX_PASSWORD_LENGTH characters without NUL."""
    if not isinstance(password, str):
        raise MatrixError(Codes.BAD_JSON, "password must be a string", 400)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise MatrixError(Codes.INVALID_PARAM, f"Password may not be longer than {MAX_PASSWORD_LENGTH} characters", 400)
    if "\x00" in password:
        raise MatrixError(Codes.INVALID_PARAM, "Password may not contain NUL characters", 400)
    return password


def check_password_policy(password: object) -> None:
    """Raise MatrixError unless `password` is an acceptable password under the configured policy."""
    password = check_password_shape(password)
    policy = settings.HS.password_policy
    if not policy.enabled:
        return
    if len(password) < policy.minimum_length:
        raise MatrixError(Codes.PASSWORD_TOO_SHORT,
                          f"The password must be at least {policy.minimum_length} characters long", 400)
    if policy.require_digit and not _DIGIT.search(password):
        raise MatrixError(Codes.PASSWORD_NO_DIGIT, "The password must include at least one digit", 400)
    if policy.require_symbol and not _SYMBOL.search(password):
        raise MatrixError(Codes.PASSWORD_NO_SYMBOL, "The password must include at least one symbol", 400)
    if policy.require_uppercase and not _UPPERCASE.search(password):
        raise MatrixError(Codes.PASSWORD_NO_UPPERCASE,
                          "The password must include at least one uppercase letter", 400)
    if policy.require_lowercase and not _LOWERCASE.search(password):
        raise MatrixError(Codes.PASSWORD_NO_LOWERCASE,
                          "The password must include at least one lowercase letter", 400)


def policy_description() -> dict:
    """Synapse's format: `m.<rule>` keys when the policy is enabled, an empty object otherwise."""
    policy = settings.HS.password_policy
    if not policy.enabled:
        return {}
    return {
        "m.minimum_length": policy.minimum_length,
        "m.require_digit": policy.require_digit,
        "m.require_symbol": policy.require_symbol,
        "m.require_lowercase": policy.require_lowercase,
        "m.require_uppercase": policy.require_uppercase,
    }
