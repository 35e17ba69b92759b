"""`manage.py runserver`: daphne's ASGI development server with the homeserver's defaults.

- Listens on 127.0.0.1:8008 (Synapse's client port) unless told otherwise.
- In the embedded default (no `HS_CONFIG`) it makes the data directory usable before serving:
  the database schema is migrated and the server signing key is created, so that
  `manage.py runserver` alone gives a homeserver a client can register on. With a configuration
  file nothing is changed behind the admin's back: run `manage.py migrate` yourself.

This app must come before `daphne` in INSTALLED_APPS so that this command is the one Django finds.
"""
from __future__ import annotations

from daphne.management.commands.runserver import Command as DaphneRunserver
from django.conf import settings
from django.core.management import call_command


class Command(DaphneRunserver):
    help = ("Starts the homeserver's ASGI development server (default 127.0.0.1:8008); in the embedded "
            "default it first applies migrations and creates the server signing key.")
    default_addr = "127.0.0.1"
    default_port = "8008"

    def inner_run(self, *args, **options):
        # inner_run is what the autoreloader's child process executes: prepare once per serving process.
        if settings.HS.embedded:
            self.prepare_embedded()
        return super().inner_run(*args, **options)

    def prepare_embedded(self) -> None:
        self.stdout.write(f"Embedded default: data in {settings.HS.data_directory}\n")
        call_command("migrate", interactive=False, verbosity=0)
        ensure_signing_key()
        self.stdout.write(f"Server name {settings.HS.server_name}; signing key {settings.HS.signing_key_path}\n")


def ensure_signing_key() -> None:
    """Create the signing key file now rather than on the first federation request."""
    from apps.federation.signing import load_signing_key  # lazily: needs the app registry ready

    load_signing_key(settings.HS.signing_key_path)
