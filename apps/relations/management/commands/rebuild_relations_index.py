"""`manage.py rebuild_relations_index`: recompute the relations and thread index from the stored
timeline (events persisted before apps.relations was installed); see `apps.relations.index.rebuild`."""
from __future__ import annotations

from django.core.management.base import BaseCommand

from apps.relations.index import rebuild


class Command(BaseCommand):
    help = "Rebuild the index of event relationships and threads from the stored room timelines."

    def handle(self, *args, **options):
        self.stdout.write(f"Relations index rebuilt from {rebuild()} events.")
