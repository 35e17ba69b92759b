"""`manage.py run_topology --dir DIR`: a whole scaled-mode homeserver on loopback, in the foreground.

Main, two generic workers, two event persisters, the other stream writers, one Celery worker per queue,
beat and nginx in front (`hsproject.localtopology`), on PostgreSQL and Redis. Ctrl-C stops everything.
"""
from __future__ import annotations

import signal
import time

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Runs a complete local multi-process topology behind nginx (needs PostgreSQL and Redis)."
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("--dir", required=True, help="Where the configuration, data and logs go.")
        parser.add_argument("--base-port", type=int, default=18000,
                            help="nginx listens here; the processes take the following ports.")
        parser.add_argument("--server-name", default="localhost")
        parser.add_argument("--database", default="hsproject_topology")
        parser.add_argument("--create-database", action="store_true")
        parser.add_argument("--pg-host", default="127.0.0.1")
        parser.add_argument("--pg-port", type=int, default=5432)
        parser.add_argument("--pg-user", default="postgres")
        parser.add_argument("--pg-password", default="")
        parser.add_argument("--redis-host", default="127.0.0.1")
        parser.add_argument("--redis-port", type=int, default=6379)
        parser.add_argument("--redis-dbid", type=int, default=0)
        parser.add_argument("--no-celery", action="store_true", help="Leave out the Celery workers and beat.")
        parser.add_argument("--persisters", type=int, default=2, help="How many event persisters (1-8).")

    def handle(self, *args, **o):
        from hsproject import localtopology

        if not 1024 <= o["base_port"] <= 65000:
            raise CommandError("--base-port must be between 1024 and 65000")
        database = {"database": o["database"], "host": o["pg_host"], "port": o["pg_port"], "user": o["pg_user"]}
        if o["pg_password"]:
            database["password"] = o["pg_password"]
        if o["create_database"]:
            self._create_database(database)
        try:
            topo = localtopology.build(o["dir"], base_port=o["base_port"], database=database,
                                       redis={"host": o["redis_host"], "port": o["redis_port"],
                                              "dbid": o["redis_dbid"]},
                                       server_name=o["server_name"], celery=not o["no_celery"],
                                       persisters=o["persisters"])
            localtopology.migrate(topo)
            topo.start()
        except (RuntimeError, OSError, ValueError) as e:
            raise CommandError(str(e)) from None
        self.stdout.write(f"ready: {topo.base_url} (logs in {topo.directory / 'logs'})")
        self.stdout.flush()
        stopping = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stopping.append(True))
        try:
            while not stopping:
                for p in topo.processes:
                    if p.proc is not None and p.proc.poll() is not None:
                        self.stderr.write(f"{p.name} exited with {p.proc.returncode}")
                        p.proc = None
                time.sleep(0.5)
        finally:
            topo.stop()

    def _create_database(self, database: dict) -> None:
        import psycopg
        from psycopg import sql

        args = {k: v for k, v in database.items() if k != "database"}
        with psycopg.connect(dbname="postgres", autocommit=True, **args) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database["database"],)).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database["database"])))
