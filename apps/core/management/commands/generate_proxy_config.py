"""`manage.py generate_proxy_config --format nginx|haproxy [--worker-config FILE ...]`.

Reads the shared file (HS_CONFIG) as the main process does and each worker file laid over it as that
worker does (so a topology the processes would refuse is refused here too), then prints the proxy's
configuration: nginx's is an `http {}`-level file to include; HAProxy's holds `defaults`, the frontend
and the backends.
"""
from __future__ import annotations

import glob
import os

from django.core.management.base import BaseCommand, CommandError

from hsproject.config import ConfigError, load_from_files


class Command(BaseCommand):
    help = "Prints reverse-proxy configuration (nginx or haproxy) for the configured worker topology."
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=("nginx", "haproxy"), default="nginx")
        parser.add_argument("--worker-config", action="append", default=[],
                            help="A worker YAML (repeatable; shell globs are expanded).")
        parser.add_argument("--listen", default="0.0.0.0:8080",
                            help="Where the proxy listens (nginx `listen` / HAProxy `bind` syntax).")
        parser.add_argument("--output", "-o", default="-", help="A file, or '-' for standard output.")

    def handle(self, *args, **o):
        from hsproject.proxy import haproxy, nginx
        from hsproject.proxy.plan import ProxyPlanError, build_plan
        from hsproject.routing import all_routes

        shared = os.environ.get("HS_CONFIG")
        if not shared:
            raise CommandError("HS_CONFIG must name the shared homeserver.yaml (the embedded default has no workers)")
        files: list[str] = []
        for pattern in o["worker_config"]:
            found = sorted(glob.glob(pattern))
            if not found:
                raise CommandError(f"--worker-config {pattern!r}: no such file")
            files += found
        try:
            configs = [load_from_files(shared, None)] + [load_from_files(shared, f) for f in files]
            plan = build_plan(configs, all_routes())
        except ConfigError as e:
            raise CommandError(f"configuration error: {e}") from None
        except ProxyPlanError as e:
            raise CommandError(str(e)) from None
        main = configs[0]
        if o["format"] == "nginx":
            text = nginx.render(plan, listen=o["listen"], server_name=main.server_name.split(":")[0],
                                max_body=main.max_upload_size)
        else:
            text = haproxy.render(plan, listen=o["listen"], max_body=main.max_upload_size)
        if o["output"] == "-":
            self.stdout.write(text, ending="")
        else:
            with open(o["output"], "w", encoding="utf-8") as f:
                f.write(text)
            self.stdout.write(self.style.SUCCESS(f"Wrote {o['output']}."))
