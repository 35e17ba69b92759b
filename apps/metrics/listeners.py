"""Where this process serves its metrics, as Synapse does: only with `enable_metrics: true`, and only on

- an `http` listener whose resources include `metrics` (bound by gunicorn / runserver like the others):
  `GET /_synapse/metrics` there; the same path on any other listener is 404 M_UNRECOGNIZED, so the
  client/federation listener behind the reverse proxy never answers it;
- a `type: metrics` listener: a small HTTP server this process starts itself (prometheus_client's), which
  answers on any path. With several gunicorn workers for one instance the first to start binds it and
  serves its own process metrics; the queue and task metrics, read from the broker and Redis, are the
  same in every process.

A process's listeners are `listeners` for the main process, its worker file's `worker_listeners` for any
other.
"""
from __future__ import annotations

import errno
import logging

from django.conf import settings
from django.http import HttpRequest

from hsproject import instance
from hsproject.proxy.plan import MAIN_APPS

logger = logging.getLogger(__name__)

def own_listeners(hs=None) -> tuple:
    if hs is None:
        return instance.listeners()
    return hs.listeners if hs.workers.worker_app in MAIN_APPS else hs.workers.worker_listeners


def metrics_ports(hs=None) -> set[int]:
    """Ports of this process's http listeners that have the `metrics` resource."""
    return {l.port for l in own_listeners(hs) if l.type == "http" and "metrics" in l.resources}


def serves_metrics(request: HttpRequest) -> bool:
    """Whether `request` reached a listener of this process that serves metrics, with metrics on."""
    hs = settings.HS
    if not hs.enable_metrics:
        return False
    try:
        port = int(request.META.get("SERVER_PORT") or 0)
    except ValueError:
        return False
    return port in metrics_ports(hs)


def start_metrics_listeners() -> list:
    """Start this process's `type: metrics` listeners (at process start, see apps.core.process_start);
    returns the (server, thread) pairs started."""
    from prometheus_client import REGISTRY, start_http_server

    hs = settings.HS
    listeners = [l for l in own_listeners(hs) if l.type == "metrics"]
    if listeners and not hs.enable_metrics:
        logger.warning("a 'metrics' listener is configured but enable_metrics is false: not starting it")
        return []
    started = []
    for listener in listeners:
        for addr in listener.bind_addresses:
            try:
                started.append(start_http_server(listener.port, addr=addr, registry=REGISTRY))
            except OSError as e:
                if e.errno == errno.EADDRINUSE:
                    # Another worker process of this instance (gunicorn -w N) took it first.
                    logger.info("metrics listener %s:%s is already bound (by another process of this "
                                "instance?)", addr, listener.port)
                else:
                    logger.error("could not start the metrics listener %s:%s: %s", addr, listener.port, e)
                continue
            logger.info("metrics listener on %s:%s", addr, listener.port)
    return started
