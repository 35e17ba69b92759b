"""THIS process: its instance name and which streams it writes, derived once from the configuration.

Code asks `instance.writes("typing")` rather than branching on `worker_app`; the writer of a stream or
of a room is looked up here, so forwarding decisions have one source.
"""
from __future__ import annotations

from django.conf import settings


def config():
    return settings.HS


def name() -> str:
    return settings.HS.workers.instance_name


def writes(stream: str) -> bool:
    return settings.HS.workers.writes(stream)


def writers_of(stream: str) -> tuple[str, ...]:
    return settings.HS.workers.writers_of(stream)


def is_background_instance() -> bool:
    return settings.HS.workers.run_background_tasks_on == name()
