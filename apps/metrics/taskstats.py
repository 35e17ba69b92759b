"""Task counters and latency histograms per (queue, task), shared by every process.

Celery workers are separate processes, and a scrape reaches one homeserver process: so the signal
handlers of whichever process runs a task add to one Redis hash (`HASH_KEY`, a few HINCRBY in one
pipeline per task start and per task end), and any process reads the whole hash at scrape time. Without
Redis (the embedded default, where tasks run in-process) the same fields live in a dict of this process.

Fields of the hash (label values never contain `|`: queue names and `<queue>.<verb>_<object>` task names):
    <counter>|<queue>|<task>            started, succeeded, failed, retried
    <histogram>|<queue>|<task>|<i>      observations in bucket i (BUCKETS[i-1] < v <= BUCKETS[i]; i ==
                                        len(BUCKETS) is +Inf), made cumulative when exported
    <histogram>|<queue>|<task>|sum      sum of the observed seconds
Histograms: `runtime` (task body, prerun to postrun) and `wait` (enqueue, or the ETA if later, to start).

Recording never fails a task: a Redis error is logged (at most once a minute) and the numbers are lost.
"""
from __future__ import annotations

import bisect
import logging
import os
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

HASH_KEY = "hs:metrics:celery_tasks"
COUNTERS = ("started", "succeeded", "failed", "retried")
HISTOGRAMS = ("runtime", "wait")
# Seconds; tasks are short wake-ups, but a federation transaction or a media sweep may take minutes.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)

Op = tuple[str, float]


def counter_op(kind: str, queue: str, task: str) -> Op:
    return f"{kind}|{queue}|{task}", 1


def histogram_ops(kind: str, queue: str, task: str, seconds: float) -> list[Op]:
    seconds = max(0.0, seconds)  # clocks of two hosts may disagree a little about the enqueue time
    i = bisect.bisect_left(BUCKETS, seconds)
    return [(f"{kind}|{queue}|{task}|{i}", 1), (f"{kind}|{queue}|{task}|sum", seconds)]


# -- where the numbers are kept ------------------------------------------------------------------------

_local: dict[str, float] = defaultdict(float)
_local_lock = threading.Lock()
_client = None
_client_key: tuple | None = None
_last_error_log = 0.0


def _redis():
    """This process's client (a new one after a fork: a Celery prefork child must not share the
    parent's sockets)."""
    global _client, _client_key
    from django.conf import settings

    import redis

    key = (settings.HS.redis.url, os.getpid())
    if _client_key != key:
        _client = redis.Redis.from_url(settings.HS.redis.url, socket_connect_timeout=1.0, socket_timeout=2.0)
        _client_key = key
    return _client


def _uses_redis() -> bool:
    from django.conf import settings

    return settings.HS.redis.enabled


def add(ops: list[Op]) -> None:
    """Add each op's amount to its field."""
    if not ops:
        return
    try:
        if _uses_redis():
            with _redis().pipeline(transaction=False) as pipe:
                for name, amount in ops:
                    if isinstance(amount, int):
                        pipe.hincrby(HASH_KEY, name, amount)
                    else:
                        pipe.hincrbyfloat(HASH_KEY, name, amount)
                pipe.execute()
        else:
            with _local_lock:
                for name, amount in ops:
                    _local[name] += amount
    except Exception as e:  # noqa: BLE001 - metrics must never fail the task they describe
        global _last_error_log
        now = time.monotonic()
        if now - _last_error_log > 60:
            _last_error_log = now
            logger.warning("could not record task metrics: %s", e)


def read_fields() -> dict[str, float]:
    """Every field and its value (raises on a Redis error: the scrape reports it)."""
    if _uses_redis():
        raw = _redis().hgetall(HASH_KEY)
        return {k.decode(): float(v) for k, v in raw.items()}
    with _local_lock:
        return dict(_local)


# -- reading them back ---------------------------------------------------------------------------------

@dataclass
class Histogram:
    buckets: list[float] = field(default_factory=lambda: [0.0] * (len(BUCKETS) + 1))
    sum: float = 0.0

    def cumulative(self) -> list[tuple[str, float]]:
        """(le, count) pairs as Prometheus wants them, ending with +Inf (the total count)."""
        out, total = [], 0.0
        for le, n in zip((*(repr(b) for b in BUCKETS), "+Inf"), self.buckets):
            total += n
            out.append((le, total))
        return out


@dataclass
class TaskStats:
    # (kind, queue, task) -> value
    counters: dict[tuple[str, str, str], float] = field(default_factory=dict)
    histograms: dict[tuple[str, str, str], Histogram] = field(default_factory=dict)


def parse(fields: dict[str, float]) -> TaskStats:
    """The hash's fields as counters and histograms; fields of another shape are ignored."""
    stats = TaskStats()
    for name, value in fields.items():
        parts = name.split("|")
        if len(parts) == 3 and parts[0] in COUNTERS:
            stats.counters[(parts[0], parts[1], parts[2])] = value
        elif len(parts) == 4 and parts[0] in HISTOGRAMS:
            h = stats.histograms.setdefault((parts[0], parts[1], parts[2]), Histogram())
            if parts[3] == "sum":
                h.sum = value
            elif parts[3].isdigit() and int(parts[3]) <= len(BUCKETS):
                h.buckets[int(parts[3])] = value
    return stats


def read() -> TaskStats:
    return parse(read_fields())
