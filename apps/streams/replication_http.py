"""Internal HTTP replication: a process forwards a write to the instance that writes the stream.

Every endpoint lives under `/_hs/replication/` (routing rows with `serves="replication"`, which the
generated proxy configuration never routes) and is authenticated with `worker_replication_secret`:
`Authorization: Bearer <secret>`, compared in constant time. Without a configured secret the endpoints
refuse everything: a single-process homeserver never forwards.

`call_instance(instance, path, payload)` is the client side (the instance's address is its
`instance_map` entry). `wait_for_position(stream, position)` gives read-after-write: after a writer
answers with the position it committed, the forwarding process waits until its own replication view has
reached it, so the client's next read on this process sees its write.
"""
from __future__ import annotations

import hmac
import json
import logging
import threading
import time

from django.conf import settings

from apps.core.errors import Codes, MatrixError

logger = logging.getLogger(__name__)

PREFIX = "/_hs/replication"
CALL_TIMEOUT_S = 30.0
READ_AFTER_WRITE_TIMEOUT_S = 10.0


def check_replication_auth(request) -> None:
    """Refuse a replication request without the right secret (403, never a hint of which part was wrong)."""
    secret = settings.HS.workers.worker_replication_secret
    header = request.META.get("HTTP_AUTHORIZATION", "")
    given = header[len("Bearer "):] if header.startswith("Bearer ") else ""
    if not secret or not given or not hmac.compare_digest(given.encode(), secret.encode()):
        raise MatrixError(Codes.FORBIDDEN, "Replication requests need the worker replication secret", 403)


class WriterUnavailable(MatrixError):
    def __init__(self, instance: str, why: str):
        super().__init__(Codes.UNKNOWN, f"The writer {instance!r} could not take the write: {why}", 502)


def call_instance(instance: str, path: str, payload: dict, *, timeout: float = CALL_TIMEOUT_S) -> dict:
    """POST `payload` to `instance`'s replication endpoint `path` (under PREFIX); its JSON answer.

    A Matrix error the writer returns (a 4xx with an errcode) is raised here as the same error, so the
    client of the forwarding process gets what the writer decided."""
    import httpx

    topo = settings.HS.workers
    location = topo.instance_map.get(instance)
    if location is None:
        raise WriterUnavailable(instance, "it is not in instance_map")
    secret = topo.worker_replication_secret
    if not secret:
        raise WriterUnavailable(instance, "worker_replication_secret is not configured")
    url = location.base_url + PREFIX + path
    try:
        # Replication traffic goes to configured internal instances only, never to a name a user gave.
        with httpx.Client(timeout=timeout, trust_env=False) as client:
            resp = client.post(url, content=json.dumps(payload), headers={
                "Authorization": f"Bearer {secret}", "Content-Type": "application/json"})
    except httpx.HTTPError as e:
        raise WriterUnavailable(instance, type(e).__name__) from None
    try:
        body = resp.json()
    except ValueError:
        body = None
    if resp.status_code == 200 and isinstance(body, dict):
        return body
    if isinstance(body, dict) and isinstance(body.get("errcode"), str) and 400 <= resp.status_code < 500:
        extra = {k: v for k, v in body.items() if k not in ("errcode", "error")}
        raise MatrixError(body["errcode"], str(body.get("error", "")), resp.status_code, **extra)
    raise WriterUnavailable(instance, f"HTTP {resp.status_code}")


def wait_for_position(stream: str, position: int, *, timeout: float = READ_AFTER_WRITE_TIMEOUT_S) -> bool:
    """Block until this process may read `stream` up to `position` (its persisted-up-to position has
    reached it). False on timeout: the write is durable anyway, it only shows up later."""
    from .replication import get_state

    state = get_state()
    if state.persisted_up_to(stream) >= position:
        return True
    moved = threading.Event()

    def listener(name, _instance, pos, _rows):
        if name == stream and pos >= position:
            moved.set()
    remove = state.add_listener(listener)
    try:
        deadline = time.monotonic() + timeout
        next_resync = time.monotonic() + 1.0
        while state.persisted_up_to(stream) < position:
            now = time.monotonic()
            if now >= deadline:
                logger.warning("read-after-write: %s did not reach %s within %ss", stream, position, timeout)
                return False
            moved.wait(min(0.25, deadline - now))
            if time.monotonic() >= next_resync:
                # The publication may have been lost (Redis reconnect): the database has it.
                state.resync()
                next_resync = time.monotonic() + 1.0
        return True
    finally:
        remove()
