"""From the topology and the routing table to a proxy plan: upstream pools and one rule per routed row.

The plan is what both renderers (`nginx.py`, `haproxy.py`) print; it is pure data, built from the
configurations of every process (the main one and each worker file laid over the shared file, as the
processes themselves load them) and from `hsproject.routing.all_routes()`.

Pools (each an upstream group; a pool that would be empty falls back to the next one, and finally to
main):

- `hs_main` — the main process;
- `hs_client`, `hs_client_user`, `hs_client_room` — workers serving client traffic, round robin, hashed
  by user (the `syt_` token's localpart) or by room ID (event sending: one room's events meet on one
  event creator, as the seeds advise);
- `hs_sync`, `hs_initial_sync` — `/sync` with and without `since` (the seeds split them so an expensive
  initial sync never delays live ones), hashed by user;
- `hs_federation`, `hs_federation_ip` — federation, round robin or hashed by source address (inbound
  `/send` transactions of one server stay in order on one worker);
- `hs_media` — the media workers;
- `hs_writer_<stream>` — the writer of a single-writer stream (typing, receipts ...), for the endpoints
  that write it.

A row is matched on method AND path (Synapse's method-blind regexes send some POSTs to the wrong
place; the plan does not). Replication and metrics rows are never routed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

from hsproject.config.workers import SINGLE_WRITER_STREAMS

MAIN_APPS = (None, "synapse.app.homeserver", "hsproject.main")
MEDIA_APP = "synapse.app.media_repository"
ANY_ADDRESS = ("0.0.0.0", "::", "")
INITIAL_SYNC_OPERATIONS = ("initialSync", "roomInitialSync")


class ProxyPlanError(ValueError):
    """A topology the proxy cannot route (names the process and what is missing)."""


@dataclass(frozen=True)
class Process:
    name: str
    host: str
    port: int
    serves: tuple[str, ...]


@dataclass(frozen=True)
class Pool:
    name: str
    servers: tuple[tuple[str, int], ...]
    hash: str | None = None  # None (round robin), "user", "room" or "ip"


@dataclass(frozen=True)
class Rule:
    methods: tuple[str, ...]
    regex: str  # a PCRE for the request path, anchored, without named groups
    pool: str  # a pool name, or SYNC_SPLIT
    note: str  # the operation ids, for the reader of the generated file


# The pool of a `/sync` depends on whether the query string has `since`: renderers expand it.
SYNC_SPLIT = "<sync by since>"


@dataclass
class ProxyPlan:
    pools: dict[str, Pool] = field(default_factory=dict)
    rules: list[Rule] = field(default_factory=list)
    default_pool: str = "hs_main"

    def pool(self, name: str) -> Pool:
        return self.pools[name]


def _public_listener(listeners: Iterable, who: str):
    for listener in listeners:
        if listener.type == "http" and set(listener.resources) - {"replication", "metrics", "health"}:
            return listener
    raise ProxyPlanError(f"{who} has no http listener for client, federation or media traffic")


def _host(cfg, listener) -> str:
    mapped = cfg.workers.instance_map.get(cfg.workers.instance_name)
    if mapped is not None and mapped.host not in ("localhost",):
        return mapped.host
    addr = listener.bind_addresses[0] if listener.bind_addresses else "127.0.0.1"
    return "127.0.0.1" if addr in ANY_ADDRESS else addr


def process_of(cfg) -> Process | None:
    """The proxy's view of one process: where it listens and what traffic it takes (None for a process
    with no listener at all, a Celery worker's identity file)."""
    topo = cfg.workers
    if topo.worker_app in MAIN_APPS:
        listener = _public_listener(cfg.listeners, "the main process (listeners)")
        return Process("main", _host(cfg, listener), listener.port, ("main",))
    if not topo.worker_listeners:
        return None
    listener = _public_listener(topo.worker_listeners, f"worker {topo.instance_name!r} (worker_listeners)")
    serves = topo.worker_serves
    if not serves:
        res = set(listener.resources)
        if topo.worker_app == MEDIA_APP:
            serves = ("media",) if "media" in res else ()
        else:
            serves = (("client", "sync", "initial_sync") if "client" in res else ()) + \
                     (("federation",) if "federation" in res or "keys" in res else ())
    return Process(topo.instance_name, _host(cfg, listener), listener.port, tuple(serves))


def build_plan(configs: list, routes) -> ProxyPlan:
    """`configs`: the main process's configuration first, then each worker's (HomeserverConfig)."""
    if not configs or configs[0].workers.worker_app not in MAIN_APPS:
        raise ProxyPlanError("the first configuration must be the main process's (the shared file alone)")
    processes = [p for p in (process_of(c) for c in configs) if p is not None]
    names = [p.name for p in processes]
    for n in names:
        if names.count(n) > 1:
            raise ProxyPlanError(f"two worker files name the instance {n!r}")
    by_name = {p.name: p for p in processes}
    main = by_name["main"]
    topo = configs[0].workers

    def servers(kind: str) -> tuple[tuple[str, int], ...]:
        return tuple((p.host, p.port) for p in processes if kind in p.serves)

    plan = ProxyPlan()
    main_servers = ((main.host, main.port),)

    def add(name: str, members: tuple, hash_: str | None, *fallbacks: tuple) -> None:
        for candidate in (members, *fallbacks, main_servers):
            if candidate:
                plan.pools[name] = Pool(name, candidate, hash_)
                return

    add("hs_main", main_servers, None)
    add("hs_client", servers("client"), None)
    add("hs_client_user", servers("client"), "user")
    add("hs_client_room", servers("client"), "room")
    add("hs_sync", servers("sync"), "user", servers("client"))
    add("hs_initial_sync", servers("initial_sync"), "user", servers("sync"), servers("client"))
    add("hs_federation", servers("federation"), None)
    add("hs_federation_ip", servers("federation"), "ip")
    add("hs_media", servers("media"), None)
    for stream in SINGLE_WRITER_STREAMS:
        writer = topo.writers_of(stream)[0]
        if writer not in by_name:
            raise ProxyPlanError(f"stream_writers.{stream}: {writer!r} has no worker file here, so the proxy "
                                 f"cannot send the {stream} endpoints to it")
        w = by_name[writer]
        add(f"hs_writer_{stream}", ((w.host, w.port),), None)

    for route in routes:
        # Reads of a row that writes a stream are anyone's; its writes go to the writer.
        reads = tuple(m for m in route.methods if m == "GET")
        groups = [(reads, False), (tuple(m for m in route.methods if m != "GET"), True)]
        for methods, writing in groups:
            pool = _pool_for(route, writing)
            if pool is None or not methods:
                continue
            methods = tuple(sorted(methods + (("HEAD",) if "GET" in methods else ())))
            note = ", ".join(sorted({route.methods[m].operation_id for m in methods if m in route.methods}))
            plan.rules.append(Rule(methods, path_regex(route.pattern), pool, note))
    return plan


def _pool_for(route, writing: bool) -> str | None:
    if route.serves in ("replication", "metrics"):
        return None  # internal: scraped or called on the process's own listener, never through the proxy
    if writing and route.writes in SINGLE_WRITER_STREAMS:
        return f"hs_writer_{route.writes}"
    if writing and route.writes and route.writes != "events":
        return "hs_main"  # streams without a configurable writer (device_lists) are main's
    ops = set(route.operation_ids().values())
    if route.serves == "sync":
        if ops & set(INITIAL_SYNC_OPERATIONS):
            return "hs_initial_sync"
        return SYNC_SPLIT if "sync" in ops else "hs_sync"
    if route.serves == "media":
        return "hs_media"
    if route.serves in ("federation", "keys"):
        return "hs_federation_ip" if route.balance in ("ip", "origin") else "hs_federation"
    if route.serves == "client":
        if route.writes == "events" or route.balance == "room":
            return "hs_client_room" if route.shard_key == "room_id" or route.balance == "room" else "hs_client"
        return "hs_client_user" if route.balance == "user" else "hs_client"
    return "hs_main"  # admin, health, discovery: the main process


_NAMED_GROUP = re.compile(r"\(\?P<[A-Za-z_][A-Za-z0-9_]*>")


def path_regex(pattern: str) -> str:
    """A routing-table pattern as a PCRE both proxies accept: named groups made plain groups, escaped
    dots as `[.]` (no backslash to survive two quoting rules)."""
    out = _NAMED_GROUP.sub("(?:", pattern).replace("\\.", "[.]")
    if any(c in out for c in ' "\'\\'):
        # No pattern of the table needs these; refusing them keeps quoting in both formats trivial.
        raise ProxyPlanError(f"route pattern {pattern!r} has a character the proxy formats cannot quote")
    return out
