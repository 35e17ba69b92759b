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


def listeners() -> tuple:
    """This process's listeners: `listeners` for the main process, its worker file's `worker_listeners`
    for any other."""
    from hsproject.proxy.plan import MAIN_APPS

    hs = settings.HS
    return hs.listeners if hs.workers.worker_app in MAIN_APPS else hs.workers.worker_listeners


def listener_on(port: int):
    """The listener of this process bound to `port`, or None (a test client, an unknown port)."""
    for listener in listeners():
        if listener.port == port:
            return listener
    return None
