"""`manage.py generate_config --server-name example.org`: a commented homeserver.yaml for the scaled mode.

Secrets (replication, shared-secret registration, form secret) are freshly random on every run. The
file is checked by loading it back through `hsproject.config` before the command reports success.
"""
from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from hsproject.config import ConfigError, load_from_files

from ..configgen import HomeserverParams, render_homeserver_config, write_new_file


class Command(BaseCommand):
    help = "Writes a commented homeserver YAML for the scaled mode (PostgreSQL, Redis, workers)."
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("--server-name", required=True, help="The domain in user IDs, e.g. example.org.")
        parser.add_argument("--output", "-o", default="homeserver.yaml", help="Where to write ('-' for stdout).")
        parser.add_argument("--data-dir", default="/var/lib/hsproject",
                            help="Directory for the signing key and media (default /var/lib/hsproject).")
        parser.add_argument("--public-baseurl", default=None, help="Default https://<server-name>/.")
        parser.add_argument("--db-host", default="127.0.0.1")
        parser.add_argument("--db-port", type=int, default=5432)
        parser.add_argument("--db-name", default="hsproject")
        parser.add_argument("--db-user", default="hsproject")
        parser.add_argument("--db-password", default="")
        parser.add_argument("--redis-host", default="127.0.0.1")
        parser.add_argument("--redis-port", type=int, default=6379)
        parser.add_argument("--force", action="store_true", help="Overwrite an existing file.")

    def handle(self, *args, **o):
        params = HomeserverParams(
            server_name=o["server_name"], data_dir=o["data_dir"], public_baseurl=o["public_baseurl"],
            db_host=o["db_host"], db_port=o["db_port"], db_name=o["db_name"], db_user=o["db_user"],
            db_password=o["db_password"], redis_host=o["redis_host"], redis_port=o["redis_port"],
        )
        text = render_homeserver_config(params)
        validate(text)
        if o["output"] == "-":
            sys.stdout.write(text)
            return
        path = write_new_file(o["output"], text, force=o["force"])
        self.stdout.write(self.style.SUCCESS(f"Wrote {path} (mode 600: it holds secrets)."))
        self.stdout.write("Next: create the PostgreSQL database, then HS_CONFIG=%s manage.py migrate; "
                          "see docs/deployment.md." % path)


def validate(shared_text: str, worker_text: str | None = None) -> None:
    """Load the rendered text through the real loader: a generator bug must not produce a bad file."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        shared = Path(tmp) / "homeserver.yaml"
        shared.write_text(shared_text)
        worker = None
        if worker_text is not None:
            worker = Path(tmp) / "worker.yaml"
            worker.write_text(worker_text)
        try:
            load_from_files(str(shared), str(worker) if worker else None, data_dir=tmp)
        except ConfigError as e:
            raise CommandError(f"the generated configuration does not load: {e}") from None
