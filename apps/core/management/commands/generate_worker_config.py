"""`manage.py generate_worker_config --worker-name NAME --app APP --port N [--replication-port M]`.

Writes the small per-process YAML (HS_WORKER_CONFIG) laid over the shared homeserver.yaml.
"""
from __future__ import annotations

import re
import sys

from django.core.management.base import BaseCommand, CommandError

from hsproject.config.workers import WORKER_APPS

from ..configgen import WorkerParams, render_worker_config, write_new_file

WORKER_NAME_RE = r"[A-Za-z0-9_\-.]{1,64}"


class Command(BaseCommand):
    help = "Writes a worker YAML (worker_app, worker_name, worker_listeners) for HS_WORKER_CONFIG."
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("--worker-name", required=True)
        parser.add_argument("--app", default="synapse.app.generic_worker",
                            choices=[a for a in WORKER_APPS if a not in ("synapse.app.homeserver", "hsproject.main")])
        parser.add_argument("--port", type=int, required=True, help="Port for traffic from the reverse proxy.")
        parser.add_argument("--replication-port", type=int, default=None,
                            help="Port of the replication listener (needed for stream writers).")
        parser.add_argument("--output", "-o", default=None, help="Default workers/<name>.yaml; '-' for stdout.")
        parser.add_argument("--force", action="store_true", help="Overwrite an existing file.")

    def handle(self, *args, **o):
        name = o["worker_name"]
        if not re.fullmatch(WORKER_NAME_RE, name) or name == "main":
            raise CommandError(f"--worker-name {name!r}: use letters, digits, '_', '-', '.'; 'main' is reserved")
        for opt in ("port", "replication_port"):
            if o[opt] is not None and not 1 <= o[opt] <= 65535:
                raise CommandError(f"--{opt.replace('_', '-')} must be between 1 and 65535")
        text = render_worker_config(WorkerParams(name, o["app"], o["port"], o["replication_port"]))
        if o["output"] == "-":
            sys.stdout.write(text)
            return
        path = write_new_file(o["output"] or f"workers/{name}.yaml", text, force=o["force"], mode=0o644)
        self.stdout.write(self.style.SUCCESS(f"Wrote {path}."))
        if o["replication_port"]:
            self.stdout.write(f"Add to instance_map in the shared file: {name}: "
                              f"{{host: 127.0.0.1, port: {o['replication_port']}}}")
