"""`manage.py rebuild_user_directory`: recompute the user directory's tables from the rooms' current
state, here and now (`apps.user_directory_index.index.rebuild`; the same work as the
`background.rebuild_user_directory` task). Idempotent: run it again at any time."""
from __future__ import annotations

from django.core.management.base import BaseCommand

from apps.user_directory_index.index import REBUILD_BATCH, rebuild


class Command(BaseCommand):
    help = "Rebuild the user directory (public rooms, remote users' profiles) from the rooms' current state."

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=REBUILD_BATCH,
                            help=f"Rows read and written per transaction (default {REBUILD_BATCH}).")

    def handle(self, *args, batch: int, **options):
        if batch < 1:
            from django.core.management.base import CommandError

            raise CommandError("--batch must be at least 1")
        out = rebuild(batch)
        self.stdout.write(f"User directory rebuilt: {out['rooms']} rooms read, {out['public_rooms']} public, "
                          f"{out['entries']} remote users' entries written, {out['removed']} stale entries removed.")
