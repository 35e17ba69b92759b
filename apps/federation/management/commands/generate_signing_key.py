"""`manage.py generate_signing_key [--rotate]`: the server's ed25519 signing key at `signing_key_path`.

Without `--rotate` the key file is created if there is none (what the server also does on first use)
and an existing key is never touched. With `--rotate` a new key (a new key id) replaces the current
one: the previous file is kept beside it as `<signing_key_path>.old.<version>`, and the
`old_signing_keys` entry of the previous key is printed, to be added to the configuration so that
other servers can still verify what was signed with it (spec: server-server API, "Publishing Keys",
`old_verify_keys`). Every process must then be restarted: each reads the key once.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from signedjson.key import encode_verify_key_base64, generate_signing_key, get_verify_key, write_signing_keys

from apps.federation import signing


def _write_new_key(path: Path, taken: set[str]):
    """A new key written to `path` through a private temporary file renamed over it (readers see the
    old file or the new one, never half of one); its version is not one of `taken`."""
    version = signing.new_key_version()
    while f"ed25519:{version}" in taken:
        version = signing.new_key_version()
    key = generate_signing_key(version)
    fd, tmp = tempfile.mkstemp(prefix=".signing-key-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            write_signing_keys(f, [key])
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return key


class Command(BaseCommand):
    help = ("Create the server's signing key at signing_key_path, or with --rotate replace it with a new one "
            "and print the old_signing_keys entry of the previous key.")

    def add_arguments(self, parser):
        parser.add_argument("--rotate", action="store_true",
                            help="Replace the current key with a new one (a new key id); the previous file is "
                                 "kept as <signing_key_path>.old.<version>.")

    def handle(self, *args, rotate: bool, **options):
        path = Path(settings.HS.signing_key_path)
        if not rotate:
            if path.exists():
                key = self._read(path)
                self.stdout.write(f"{path} already holds the key {signing.key_id(key)}: left unchanged "
                                  "(use --rotate to replace it).")
                return
            try:
                key = signing.create_key_file(path)
            except signing.SigningKeyError as e:
                raise CommandError(str(e)) from None
            self.stdout.write(f"Created the signing key {signing.key_id(key)} in {path}.")
            return

        if not path.exists():
            raise CommandError(f"signing_key_path: {path} does not exist, there is no key to rotate "
                               "(run without --rotate to create one)")
        old = self._read(path)
        old_id = signing.key_id(old)
        backup = path.with_name(f"{path.name}.old.{old.version}")
        taken = {old_id, *(k.key_id for k in settings.HS.old_signing_keys)}
        try:
            os.link(path, backup)  # fails rather than overwrite an earlier backup
            new = _write_new_key(path, taken)
        except OSError as e:
            raise CommandError(f"signing_key_path: cannot rotate {path}: {e.strerror} ({e.filename})") from None
        expired_ts = int(time.time() * 1000)
        entry = {"key": encode_verify_key_base64(get_verify_key(old)), "expired_ts": expired_ts}
        self.stdout.write(f"Rotated the signing key of {settings.HS.server_name}: {old_id} -> {signing.key_id(new)}.")
        self.stdout.write(f"The previous key file is kept as {backup}.")
        self.stdout.write("Add the previous key to old_signing_keys in the configuration (keep any entries "
                          "already there):\n")
        self.stdout.write("old_signing_keys:")
        self.stdout.write(f"  {json.dumps(old_id)}: {json.dumps(entry)}\n")
        self.stdout.write("Then restart every process. Events signed with the previous key after expired_ts "
                          "will not verify elsewhere: if the restart comes later, set expired_ts to its time.")

    @staticmethod
    def _read(path: Path):
        try:
            return signing.read_key_file(path)
        except signing.SigningKeyError as e:
            raise CommandError(str(e)) from None
