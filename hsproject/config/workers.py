"""The worker topology keys: who this process is, where the other instances are, who writes what.

Key names and meanings follow Synapse's workers guide (`shared/seeds/`). Keys whose Synapse process is
replaced by a Celery queue (`pusher_instances`, `federation_sender_instances`, `run_background_tasks_on`,
`notify_appservices_from_worker`) are kept so an admin's existing file reads the same; docs/configuration.md
says which queue each maps onto.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError
from .fields import Reader

# Streams that may have only one writer; `events` may have several (sharded by room).
SINGLE_WRITER_STREAMS = ("typing", "to_device", "account_data", "receipts", "presence", "push_rules")
MULTI_WRITER_STREAMS = ("events",)
WORKER_APPS = ("synapse.app.generic_worker", "synapse.app.media_repository", "hsproject.main",
               "synapse.app.homeserver")


@dataclass(frozen=True)
class InstanceLocation:
    host: str
    port: int | None
    path: str | None = None
    tls: bool = False

    @property
    def base_url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self.port}"


@dataclass(frozen=True)
class WorkerTopology:
    worker_app: str | None
    instance_name: str
    instance_map: dict[str, InstanceLocation] = field(default_factory=dict)
    stream_writers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    worker_replication_secret: str | None = None
    pusher_instances: tuple[str, ...] = ()
    federation_sender_instances: tuple[str, ...] = ()
    send_federation: bool = True
    start_pushers: bool = True
    run_background_tasks_on: str = "main"
    notify_appservices_from_worker: str | None = None
    update_user_directory_from_worker: str | None = None
    media_instance_running_background_jobs: str | None = None
    enable_media_repo: bool = True
    outbound_federation_restricted_to: tuple[str, ...] = ()
    worker_listeners: tuple[Any, ...] = ()
    # What the generated reverse-proxy config sends this worker (`manage.py generate_proxy_config`):
    # empty means what its listeners' resources allow.
    worker_serves: tuple[str, ...] = ()

    def writers_of(self, stream: str) -> tuple[str, ...]:
        return self.stream_writers.get(stream, ("main",))

    def writes(self, stream: str) -> bool:
        return self.instance_name in self.writers_of(stream)


def _instance_map(r: Reader) -> dict[str, InstanceLocation]:
    raw = r.raw_value("instance_map", {})
    if not isinstance(raw, dict):
        raise ConfigError("instance_map", "must be a mapping of instance name to {host, port}")
    out: dict[str, InstanceLocation] = {}
    for name, loc in raw.items():
        lr = Reader(loc, f"instance_map.{name}")
        host = lr.str("host", "localhost")
        port = lr.port("port", None)
        path = lr.str("path", None)
        tls = lr.bool("tls", False)
        lr.finish()
        if port is None and path is None:
            raise ConfigError(f"instance_map.{name}.port", "each instance needs a port or a unix socket path")
        out[str(name)] = InstanceLocation(host, port, path, tls)
    return out


def build_topology(r: Reader) -> WorkerTopology:
    from .sections import _listener  # local import: sections imports this module

    worker_app = r.str("worker_app", None, choices=WORKER_APPS)
    name = r.str("worker_name", None)
    if worker_app in (None, "synapse.app.homeserver", "hsproject.main"):
        if name not in (None, "main"):
            raise ConfigError("worker_name", "the main process is always named 'main'; set worker_app for a worker")
        name = "main"
    elif not name:
        raise ConfigError("worker_name", f"is required when worker_app is {worker_app}")
    instance_map = _instance_map(r)

    sw_raw = r.raw_value("stream_writers", {})
    if not isinstance(sw_raw, dict):
        raise ConfigError("stream_writers", "must be a mapping of stream name to instance name(s)")
    writers: dict[str, tuple[str, ...]] = {}
    for stream, value in sw_raw.items():
        key = f"stream_writers.{stream}"
        if stream not in SINGLE_WRITER_STREAMS + MULTI_WRITER_STREAMS:
            known = ", ".join(SINGLE_WRITER_STREAMS + MULTI_WRITER_STREAMS)
            raise ConfigError(key, f"unknown stream; known streams: {known}")
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise ConfigError(key, "must be an instance name or a non-empty list of instance names")
        if stream in SINGLE_WRITER_STREAMS and len(names) > 1:
            raise ConfigError(key, f"the {stream} stream can have only one writer; got {len(names)}")
        if len(set(names)) != len(names):
            raise ConfigError(key, "lists the same instance twice")
        writers[stream] = tuple(names)

    # A worker reaches main over HTTP replication (writes to streams main owns, registration ...), so
    # once any instance is listed, main must be too (Synapse: "instance_map ... must include main").
    if instance_map and "main" not in instance_map:
        raise ConfigError("instance_map", "must include 'main' (its replication listener) when workers are used")
    if name != "main" and "main" not in instance_map:
        raise ConfigError("instance_map",
                          f"worker {name!r} needs instance_map with at least 'main' (host and replication port)")

    for stream, names in writers.items():
        for n in names:
            if n not in instance_map and not (n == "main" and not instance_map):
                raise ConfigError(f"stream_writers.{stream}",
                                  f"writer {n!r} is not in instance_map, so other processes cannot reach it")

    raw_wl = r.raw_value("worker_listeners", [])
    if not isinstance(raw_wl, list):
        raise ConfigError("worker_listeners", "must be a list of listeners")
    worker_listeners = tuple(_listener(f"worker_listeners[{i}]", l) for i, l in enumerate(raw_wl))

    # The writer of a stream serves the replication endpoints other processes forward writes to.
    if name != "main" and any(name in ws for ws in writers.values()):
        if not any("replication" in l.resources for l in worker_listeners):
            raise ConfigError("worker_listeners",
                              f"instance {name!r} is a stream writer and needs a listener with the 'replication' resource")

    for key in ("worker_log_config", "worker_pid_file", "worker_daemonize", "worker_replication_host",
                "worker_replication_http_port"):
        r.raw_value(key)

    return WorkerTopology(
        worker_app=worker_app,
        instance_name=name,
        instance_map=instance_map,
        stream_writers=writers,
        worker_replication_secret=r.str("worker_replication_secret", None),
        pusher_instances=tuple(r.str_list("pusher_instances", [])),
        federation_sender_instances=tuple(r.str_list("federation_sender_instances", [])),
        send_federation=r.bool("send_federation", True),
        start_pushers=r.bool("start_pushers", True),
        run_background_tasks_on=r.str("run_background_tasks_on", "main"),
        notify_appservices_from_worker=r.str("notify_appservices_from_worker", None),
        update_user_directory_from_worker=r.str("update_user_directory_from_worker", None),
        media_instance_running_background_jobs=r.str("media_instance_running_background_jobs", None),
        enable_media_repo=r.bool("enable_media_repo", True),
        outbound_federation_restricted_to=tuple(r.str_list("outbound_federation_restricted_to", [])),
        worker_listeners=worker_listeners,
        worker_serves=_worker_serves(r),
    )


# Traffic kinds a worker may ask the proxy for (`worker_serves`); `initial_sync` is a `/sync` without
# `since` and the legacy initial syncs, which the seeds isolate on their own workers.
PROXY_TRAFFIC = ("client", "sync", "initial_sync", "federation", "media")


def _worker_serves(r: Reader) -> tuple[str, ...]:
    values = r.str_list("worker_serves", [])
    for i, v in enumerate(values):
        if v not in PROXY_TRAFFIC:
            raise ConfigError(f"worker_serves[{i}]", f"unknown traffic {v!r}; known: {', '.join(PROXY_TRAFFIC)}")
    return tuple(dict.fromkeys(values))
