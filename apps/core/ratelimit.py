"""Rate limiting in the shared cache, so a limit holds across every process of the deployment.

Generic cell rate algorithm: each key keeps one number, its theoretical arrival time (TAT). An action is
allowed when, after adding one emission interval (1 / per_second), the TAT is at most `burst_count`
intervals ahead of now. On Redis the check-and-update is one Lua script (atomic across processes);
on the in-process cache it runs under a lock.
"""
from __future__ import annotations

import logging
import math
import threading
import time

import redis
from django.core.cache import cache

from hsproject.config.sections import RateLimit

from .errors import Codes, MatrixError

_LUA = """
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local new_tat = math.max(tat, now) + interval
if new_tat - now > burst * interval then
  return tostring(new_tat - now - burst * interval)
end
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil(burst * interval) + 1000)
return '0'
"""
logger = logging.getLogger(__name__)
_lock = threading.Lock()
_script = None


def _redis_client():
    backend = getattr(cache, "_cache", None)
    if backend is not None and hasattr(backend, "get_client"):
        return backend.get_client(None, write=True)
    return None


def _retry_after_ms(key: str, limit: RateLimit, now_ms: float) -> float:
    """0 if the action is allowed (and counted), else how long until it would be."""
    global _script
    interval = 1000.0 / limit.per_second if limit.per_second > 0 else math.inf
    if math.isinf(interval):
        return 0.0 if limit.burst_count > 0 else math.inf
    ckey = cache.make_key(f"rl:{key}")
    client = _redis_client()
    if client is not None:
        if _script is None:
            _script = client.register_script(_LUA)
        try:
            return float(_script(keys=[ckey], args=[now_ms, interval, limit.burst_count]))
        except (redis.ConnectionError, redis.TimeoutError, OSError) as e:
            # Redis away: serve unlimited rather than fail every request (apps.core.cache).
            logger.warning("rate limiter unavailable, not limiting %s: %s", key, e)
            return 0.0
    with _lock:
        tat = cache.get(f"rl:{key}") or 0.0
        new_tat = max(tat, now_ms) + interval
        excess = new_tat - now_ms - limit.burst_count * interval
        if excess > 0:
            return excess
        cache.set(f"rl:{key}", new_tat, timeout=int(limit.burst_count * interval / 1000) + 1)
        return 0.0


def check(key: str, limit: RateLimit) -> None:
    """Count one action against `key`; raise 429 M_LIMIT_EXCEEDED with retry_after_ms if over the limit."""
    wait = _retry_after_ms(key, limit, time.time() * 1000)
    if wait > 0:
        ms = int(math.ceil(wait)) if math.isfinite(wait) else 86_400_000
        err = MatrixError(Codes.LIMIT_EXCEEDED, "Too many requests", 429, retry_after_ms=ms)
        err.headers["Retry-After"] = str(max(1, math.ceil(ms / 1000)))
        raise err


def client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"
