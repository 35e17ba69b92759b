"""Work a serving process starts when it starts, not at its first request.

An app registers a function from its `AppConfig.ready()`; the ASGI application (what gunicorn and
`manage.py runserver` serve) calls `run_all()` once, on a background thread, so that, for example, the
typing writer expires typing notifications and the presence writer applies timeouts even when no client
has asked it anything yet. Management commands and tests import the apps without serving, so nothing
starts there.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_starters: dict[str, Callable[[], None]] = {}


def register(name: str, start: Callable[[], None]) -> None:
    with _lock:
        _starters[name] = start


def run_all() -> None:
    def run() -> None:
        from django.db import close_old_connections

        for name, start in list(_starters.items()):
            try:
                start()
            except Exception:  # noqa: BLE001 - one app's failure must not stop the others'
                logger.exception("process start of %s failed", name)
            finally:
                close_old_connections()
    threading.Thread(target=run, name="process-start", daemon=True).start()
