"""The server's ed25519 signing key: loaded from `signing_key_path`, generated there on first use.

The file has Synapse's format (`ed25519 <version> <unpadded base64 seed>`, one key a line), so a key
can be moved between the two implementations. The first key of the file is the one we sign with;
its id is `ed25519:<version>`. Every process of a deployment must read the same file: a key is the
server's identity, and two processes generating their own would publish different keys.

Generation is race-free across processes: a new key is written to a private temporary file and then
hard-linked into place, so when several processes start at once exactly one key wins and the others
read it.

Keys the server signed with before are not kept here: their public halves are configured in
`old_signing_keys` and published as `old_verify_keys` (`manage.py generate_signing_key --rotate`
writes a new key and prints the entry for the previous one).

Spec: server-server API, "Retrieving server keys"; appendices, "Signing JSON".
"""
from __future__ import annotations

import os
import secrets
import string
import tempfile
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from signedjson.key import (
    encode_verify_key_base64,
    generate_signing_key,
    get_verify_key,
    read_signing_keys,
    write_signing_keys,
)
from signedjson.sign import sign_json
from signedjson.types import SigningKey

_VERSION_ALPHABET = string.ascii_letters + string.digits

_lock = threading.Lock()
_cache: dict[Path, SigningKey] = {}


class SigningKeyError(ImproperlyConfigured):
    """The configured signing key file cannot be read or created."""


def new_key_version() -> str:
    # Synapse's shape (`a_` + 4 random characters): short, and unlikely to clash with an old key.
    return "a_" + "".join(secrets.choice(_VERSION_ALPHABET) for _ in range(4))


def key_id(key: SigningKey) -> str:
    return f"{key.alg}:{key.version}"


def read_key_file(path: Path) -> SigningKey:
    try:
        with open(path, encoding="ascii") as f:
            keys = read_signing_keys(line for line in f if line.strip())
    except OSError as e:
        raise SigningKeyError(f"signing_key_path: cannot read {path}: {e.strerror}") from e
    except (ValueError, UnicodeDecodeError) as e:
        raise SigningKeyError(f"signing_key_path: {path} is not a signing key file "
                              f"(expected lines 'ed25519 <version> <base64 seed>'): {e}") from e
    if not keys:
        raise SigningKeyError(f"signing_key_path: {path} holds no key")
    return keys[0]


def create_key_file(path: Path) -> SigningKey:
    """Writes a new key at `path` (mode 0600, parent created) unless another process got there first;
    returns the key that is then in the file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".signing-key-", dir=path.parent)
    except OSError as e:
        raise SigningKeyError(f"signing_key_path: cannot create {path}: {e.strerror}") from e
    try:
        os.fchmod(fd, 0o600)  # mkstemp already uses 0600; say so rather than rely on it
        with os.fdopen(fd, "w", encoding="ascii") as f:
            write_signing_keys(f, [generate_signing_key(new_key_version())])
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # atomic, and fails if the file appeared meanwhile
        except FileExistsError:
            pass
        except OSError as e:
            raise SigningKeyError(f"signing_key_path: cannot create {path}: {e.strerror}") from e
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
    return read_key_file(path)


def load_signing_key(path: Path) -> SigningKey:
    if path.exists():
        return read_key_file(path)
    return create_key_file(path)


def signing_key() -> SigningKey:
    """The server's signing key, read (or generated) once per process and path."""
    path = Path(settings.HS.signing_key_path)
    key = _cache.get(path)
    if key is None:
        with _lock:
            key = _cache.get(path)
            if key is None:
                key = _cache[path] = load_signing_key(path)
    return key


def signing_key_id() -> str:
    return key_id(signing_key())


def verify_keys() -> dict[str, dict[str, str]]:
    """`verify_keys` as published in the server's key response."""
    key = signing_key()
    return {key_id(key): {"key": encode_verify_key_base64(get_verify_key(key))}}


def old_verify_keys() -> dict[str, dict[str, Any]]:
    """`old_verify_keys` as published: the configured `old_signing_keys`, except one that has the id of
    the key we sign with (a key id names one key; it cannot be both current and retired)."""
    current = signing_key_id()
    return {old.key_id: {"key": old.key, "expired_ts": old.expired_ts}
            for old in settings.HS.old_signing_keys if old.key_id != current}


def valid_until_ts(now_ms: int) -> int:
    """The `valid_until_ts` of our key response: how long others may cache it (`key_refresh_interval`)."""
    return now_ms + settings.HS.key_refresh_interval_ms


def sign(obj: dict[str, Any]) -> dict[str, Any]:
    """Signs `obj` in place as this server (adds `signatures.<server_name>.<key id>`) and returns it.

    Per the appendices, `signatures` and `unsigned` are not covered by the signature."""
    return sign_json(obj, settings.HS.server_name, signing_key())


def _clear_cache_for_tests() -> None:
    with _lock:
        _cache.clear()
