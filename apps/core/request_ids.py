"""Request ids: one per HTTP request, carried in a context variable so every log line shows it."""
from __future__ import annotations

import contextvars
import itertools
import logging
import os

_current: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_counter = itertools.count(1)
_prefix = f"{os.getpid():x}"


def new_request_id(method: str) -> str:
    rid = f"{method}-{_prefix}-{next(_counter)}"
    _current.set(rid)
    return rid


def current_request_id() -> str:
    return _current.get()


def clear() -> None:
    _current.set("-")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _current.get()
        return True
