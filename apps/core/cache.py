"""The shared cache over Redis, tolerant of Redis being away.

Everything this project keeps in the cache can be lost (throttles, lock-outs, key-fetch guards, lookup
results): Redis is a speed-up and a meeting point, the database is the source of truth (DESIGN section 4).
So a Redis outage must not turn every request into a 500: while Redis cannot be reached, reads miss and
writes are dropped (logged at most every `WARN_EVERY` seconds), and everything works again when it is back.
"""
from __future__ import annotations

import logging
import threading
import time

import redis
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger(__name__)

WARN_EVERY = 30.0
_UNAVAILABLE = (redis.ConnectionError, redis.TimeoutError, OSError)


class TolerantRedisCache(RedisCache):
    _warned_at = 0.0
    _warn_lock = threading.Lock()

    def _unavailable(self, op: str, e: Exception) -> None:
        now = time.monotonic()
        with self._warn_lock:
            if now - TolerantRedisCache._warned_at < WARN_EVERY:
                return
            TolerantRedisCache._warned_at = now
        logger.warning("cache unavailable (%s: %s): serving without it", op, e)

    def get(self, key, default=None, version=None):
        try:
            return super().get(key, default, version)
        except _UNAVAILABLE as e:
            self._unavailable("get", e)
            return default

    def get_many(self, keys, version=None):
        try:
            return super().get_many(keys, version)
        except _UNAVAILABLE as e:
            self._unavailable("get_many", e)
            return {}

    def has_key(self, key, version=None):
        try:
            return super().has_key(key, version)
        except _UNAVAILABLE as e:
            self._unavailable("has_key", e)
            return False

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().add(key, value, timeout, version)
        except _UNAVAILABLE as e:
            self._unavailable("add", e)
            return False

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().set(key, value, timeout, version)
        except _UNAVAILABLE as e:
            self._unavailable("set", e)
            return None

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().set_many(data, timeout, version)
        except _UNAVAILABLE as e:
            self._unavailable("set_many", e)
            return list(data)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().touch(key, timeout, version)
        except _UNAVAILABLE as e:
            self._unavailable("touch", e)
            return False

    def delete(self, key, version=None):
        try:
            return super().delete(key, version)
        except _UNAVAILABLE as e:
            self._unavailable("delete", e)
            return False

    def delete_many(self, keys, version=None):
        try:
            return super().delete_many(keys, version)
        except _UNAVAILABLE as e:
            self._unavailable("delete_many", e)
            return None
