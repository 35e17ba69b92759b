"""`manage.py move_room ROOM_ID PERSISTER`: hand a room over to another event persister, live.

Fenced (apps.rooms.handover): events being written finish on the old persister, later ones go to the
new one, none lost, duplicated or reordered; no process restarts.
"""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from apps.core.errors import MatrixError


class Command(BaseCommand):
    help = "Moves a room to another event persister (one of stream_writers.events) while it is in use."

    def add_arguments(self, parser):
        parser.add_argument("room_id")
        parser.add_argument("persister")

    def handle(self, *args, **o):
        from apps.rooms.handover import move_room

        try:
            previous = move_room(o["room_id"], o["persister"])
        except MatrixError as e:
            raise CommandError(e.error) from None
        if previous == o["persister"]:
            self.stdout.write(f"{o['room_id']} is already persisted by {previous}.")
        else:
            self.stdout.write(self.style.SUCCESS(f"{o['room_id']}: {previous} -> {o['persister']}."))
