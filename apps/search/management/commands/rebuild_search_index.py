"""`manage.py rebuild_search_index`: recompute the search index from the stored timeline (events
persisted before apps.search was installed); see `apps.search.index.rebuild`."""
from __future__ import annotations

from django.core.management.base import BaseCommand

from apps.search.index import rebuild


class Command(BaseCommand):
    help = "Rebuild the full-text index of room events (messages, room names and topics)."

    def handle(self, *args, **options):
        self.stdout.write(f"Search index rebuilt from {rebuild()} events.")
