"""Replication over Redis pub/sub: every process publishes to and subscribes on one channel.

Pub/sub is at-most-once: a message published while a subscriber is disconnected (Redis restart,
network blip, slow consumer kicked by `client-output-buffer-limit`) is gone. So the subscriber thread
calls `on_resync` each time its subscription is confirmed (first connect and every reconnect, *after*
SUBSCRIBE so nothing falls between the catch-up and the live feed) and every `resync_interval` seconds;
the receiver then reads `stream_positions` and the streams' rows from the database. Gaps seen inside the
live feed (`Message.prev`) are handled by the receiver. Losing Redis delays a delivery, never loses it.

Publishing happens after the commit and must not hold a request up: short socket timeouts, one
immediate retry on a fresh connection; a failure is logged and counted, and the receivers catch up on their reconnect or
resync.
"""
from __future__ import annotations

import logging
import threading
import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .base import Message, MessageCallback, ResyncCallback, Transport

logger = logging.getLogger(__name__)

DEFAULT_CHANNEL_PREFIX = "hs:"


class RedisTransport(Transport):
    def __init__(self, url: str, *, channel_prefix: str = DEFAULT_CHANNEL_PREFIX,
                 resync_interval: float = 30.0, backoff_initial: float = 0.05, backoff_max: float = 2.0,
                 name: str = "replication") -> None:
        self.url = url
        self.channel = f"{channel_prefix}replication"
        self.resync_interval = resync_interval
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.name = name
        self._callbacks: list[MessageCallback] = []
        self._resyncs: list[ResyncCallback] = []
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._thread: threading.Thread | None = None
        self._pub_lock = threading.Lock()
        self._pub_client: redis.Redis | None = None
        # Metrics-ish counters, read by tests and the process's metrics.
        self.published = 0
        self.publish_failures = 0
        self.reconnects = 0

    def _client(self, health_check_interval: int = 0, retries: int = 0) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_connect_timeout=0.5, socket_timeout=1.0,
                                    retry=Retry(NoBackoff(), retries), health_check_interval=health_check_interval)

    # -- publishing ----------------------------------------------------------------------------------
    def publish(self, message: Message) -> bool:
        data = message.to_json()
        with self._pub_lock:
            try:
                if self._pub_client is None:
                    # One immediate retry on a fresh connection: a pooled connection is dead after a
                    # quick Redis restart, and that should not cost a message.
                    self._pub_client = self._client(retries=1)
                self._pub_client.publish(self.channel, data)
                self.published += 1
                return True
            except (redis.RedisError, OSError) as e:
                self.publish_failures += 1
                logger.warning("replication publish of %s/%s@%s failed (receivers will catch up from the "
                               "database): %s", message.stream, message.instance, message.position, e)
                try:
                    if self._pub_client is not None:
                        self._pub_client.close()
                finally:
                    self._pub_client = None
                return False

    # -- subscribing ---------------------------------------------------------------------------------
    def subscribe(self, callback: MessageCallback, on_resync: ResyncCallback | None = None) -> None:
        self._callbacks.append(callback)
        if on_resync is not None:
            self._resyncs.append(on_resync)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"hs-{self.name}-redis", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._pub_lock:
            if self._pub_client is not None:
                self._pub_client.close()
                self._pub_client = None

    def wait_until_subscribed(self, timeout: float = 5.0) -> bool:
        return self._subscribed.wait(timeout)

    @property
    def subscribed(self) -> bool:
        return self._subscribed.is_set()

    @staticmethod
    def _fresh_db_connection() -> None:
        # This thread is not a request: recycle its database connection as a request would
        # (CONN_MAX_AGE, health checks), so a PostgreSQL restart does not break catch-up for good.
        from django.db import close_old_connections, connection
        try:
            if not connection.in_atomic_block:
                close_old_connections()
        except Exception:  # the database is down: the callbacks fail and are retried; the thread must live
            logger.warning("replication: could not recycle the database connection", exc_info=True)

    def _resync(self) -> None:
        self._fresh_db_connection()
        for cb in self._resyncs:
            try:
                cb()
            except Exception:
                logger.exception("replication resync failed; retrying at the next interval")

    def _dispatch(self, data: bytes) -> None:
        try:
            message = Message.from_json(data)
        except (ValueError, KeyError, TypeError):
            logger.warning("ignoring a malformed replication message: %.200r", data)
            return
        self._fresh_db_connection()  # a gap makes the receiver read the database
        for cb in self._callbacks:
            try:
                cb(message)
            except Exception:
                logger.exception("replication subscriber failed on %s/%s", message.stream, message.instance)

    def _run(self) -> None:
        backoff = self.backoff_initial
        try:
            while not self._stop.is_set():
                client = pubsub = None
                try:
                    client = self._client(health_check_interval=10)  # notices a silently dead link
                    pubsub = client.pubsub()
                    pubsub.subscribe(self.channel)
                    next_resync = float("inf")
                    while not self._stop.is_set():
                        msg = pubsub.get_message(timeout=0.2)
                        now = time.monotonic()
                        if msg is None:
                            if now >= next_resync:
                                next_resync = now + self.resync_interval
                                self._resync()
                            continue
                        if msg["type"] == "subscribe":
                            # Subscribed: from here on nothing is missed, so catch up what was; only then
                            # does `wait_until_subscribed` report ready.
                            backoff = self.backoff_initial
                            next_resync = now + self.resync_interval
                            self._resync()
                            self._subscribed.set()
                        elif msg["type"] == "message":
                            self._dispatch(msg["data"])
                except (redis.RedisError, OSError) as e:
                    if self._subscribed.is_set():
                        logger.warning("replication subscription lost (%s); reconnecting", e)
                    self._subscribed.clear()
                    self.reconnects += 1
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, self.backoff_max)
                finally:
                    self._subscribed.clear()
                    for closeable in (pubsub, client):
                        try:
                            if closeable is not None:
                                closeable.close()
                        except Exception:
                            pass
        finally:
            from django.db import connection
            connection.close()  # the resync callbacks used this thread's database connection
