"""A complete scaled-mode homeserver on loopback, from one command (`manage.py run_topology`).

`build(...)` writes the configuration of the topology into a directory: the shared `homeserver.yaml`,
one worker file per process, and nginx's configuration generated from the routing table (the same
`generate_proxy_config` an operator uses). `Topology.start()` then runs every process:

    main          client + federation traffic, device lists, and the replication listener
    generic1, 2   client, sync and federation traffic; they write no stream (they relay writes)
    persister1, 2 the event persisters (rooms are placed on them by a stable hash)
    streams1      the typing, receipts, account data, to-device, push rules and presence writer
    media1        the media repository (synapse.app.media_repository; main has enable_media_repo: false)
    celery_<q>    one Celery worker per queue (pusher, appservice, federation_sender, background)
    beat          the periodic schedule
    nginx         in front of it all

Every port is on 127.0.0.1, consecutive from `base_port`. The topology runs on PostgreSQL and Redis;
the database must exist (`--create-database` creates it).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
QUEUES = ("pusher", "appservice", "federation_sender", "background")
STREAM_WRITER = "streams1"
MEDIA_WORKER = "media1"
WRITER_STREAMS = ("typing", "receipts", "account_data", "to_device", "push_rules", "presence")


def free_port_range(n: int) -> int:
    """The first of `n` consecutive free ports on 127.0.0.1 (for tests and benchmarks)."""
    import random
    import socket

    for _ in range(200):
        base = random.randrange(20000, 60000)
        socks = []
        try:
            for port in range(base, base + n):
                s = socket.socket()
                s.bind(("127.0.0.1", port))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free range of ports")


def http_instances(persisters: int) -> tuple[str, ...]:
    return ("main", "generic1", "generic2", *(f"persister{i}" for i in range(1, persisters + 1)), STREAM_WRITER,
            MEDIA_WORKER)


@dataclass
class Process:
    name: str
    cmd: list[str]
    env: dict[str, str]
    ready_url: str | None = None
    proc: subprocess.Popen | None = None


@dataclass
class Topology:
    directory: Path
    proxy_port: int
    public_ports: dict[str, int]
    replication_ports: dict[str, int]
    processes: list[Process] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

    def url_of(self, instance: str) -> str:
        return f"http://127.0.0.1:{self.public_ports[instance]}"

    def start(self, *, timeout: float = 120) -> None:
        logs = self.directory / "logs"
        logs.mkdir(exist_ok=True)
        for p in self.processes:
            with open(logs / f"{p.name}.log", "ab") as out:
                p.proc = subprocess.Popen(p.cmd, cwd=ROOT, env=p.env, stdout=out, stderr=subprocess.STDOUT,
                                          start_new_session=True)
        deadline = time.monotonic() + timeout
        for p in self.processes:
            if p.ready_url is None:
                continue
            while True:
                if p.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"{p.name} exited with {p.proc.returncode}; see {logs / (p.name + '.log')}")
                try:
                    with urllib.request.urlopen(p.ready_url, timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"{p.name} did not answer {p.ready_url} within {timeout}s")
                time.sleep(0.2)

    def process(self, name: str) -> Process:
        return next(p for p in self.processes if p.name == name)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        p = self.process(name)
        if p.proc is not None and p.proc.poll() is None:
            os.killpg(p.proc.pid, sig)
            p.proc.wait(timeout=15)

    def stop(self) -> None:
        for p in reversed(self.processes):
            if p.proc is not None and p.proc.poll() is None:
                try:
                    os.killpg(p.proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for p in reversed(self.processes):
            if p.proc is None:
                continue
            try:
                p.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.proc.pid, signal.SIGKILL)
                p.proc.wait(timeout=5)


def _listener(port: int, *names: str) -> dict:
    return {"port": port, "bind_addresses": ["127.0.0.1"], "type": "http", "resources": [{"names": list(names)}]}


def build(directory: Path, *, base_port: int, database: dict, redis: dict, server_name: str = "localhost",
          nginx: str | None = None, celery: bool = True, extra_config: dict | None = None,
          persisters: int = 2) -> Topology:
    """Write the topology's files into `directory` and return it, not started. `database`: psycopg
    connection arguments (`database`, `host`, `port`, `user`, optional `password`); `redis`: `host`,
    `port`, `dbid`. `persisters`: how many event persisters (rooms are spread over them)."""
    from django.core.management import call_command

    if not 1 <= persisters <= 8:
        raise ValueError("between 1 and 8 event persisters")
    instances = http_instances(persisters)

    directory = Path(directory).resolve()
    (directory / "workers").mkdir(parents=True, exist_ok=True)
    ports = iter(range(base_port, base_port + 100))
    proxy_port = next(ports)
    public = {name: next(ports) for name in instances}
    replication = {name: next(ports) for name in instances if name == "main" or name == STREAM_WRITER
                   or name.startswith("persister")}
    secret_file = directory / "replication.secret"
    if not secret_file.exists():
        import secrets
        secret_file.write_text(secrets.token_urlsafe(32))
        secret_file.chmod(0o600)
    shared = {
        "server_name": server_name,
        "public_baseurl": f"http://127.0.0.1:{proxy_port}/",
        "form_secret": secret_file.read_text() + "-form",
        "signing_key_path": str(directory / "signing.key"),
        "media_store_path": str(directory / "media"),
        "database": {"name": "psycopg2", "args": dict(database)},
        "redis": {"enabled": True, **redis},
        "listeners": [_listener(public["main"], "client", "federation"),
                      _listener(replication["main"], "replication")],
        "instance_map": {name: {"host": "127.0.0.1", "port": port} for name, port in replication.items()},
        "stream_writers": {"events": [n for n in instances if n.startswith("persister")],
                           **{s: STREAM_WRITER for s in WRITER_STREAMS}},
        "worker_replication_secret": secret_file.read_text(),
        "run_background_tasks_on": "celery_background",
        # The media repository is the media worker's alone.
        "enable_media_repo": False,
        "media_instance_running_background_jobs": MEDIA_WORKER,
        "enable_registration": True,
        "enable_registration_without_verification": True,
        # A local topology talks to nothing outside this machine.
        "ip_range_blacklist": ["0.0.0.0/0", "::/0"],
        "ip_range_whitelist": ["127.0.0.0/8"],
        **(extra_config or {}),
    }
    shared_path = directory / "homeserver.yaml"
    shared_path.write_text(yaml.safe_dump(shared, sort_keys=False))
    worker_files: dict[str, Path] = {}
    for name in instances[1:]:
        if name == MEDIA_WORKER:
            path = directory / "workers" / f"{name}.yaml"
            path.write_text(yaml.safe_dump({"worker_app": "synapse.app.media_repository", "worker_name": name,
                                            "worker_listeners": [_listener(public[name], "media")]}, sort_keys=False))
            worker_files[name] = path
            continue
        listeners = [_listener(public[name], "client", "federation")]
        if name in replication:
            listeners.append(_listener(replication[name], "replication"))
        worker = {"worker_app": "synapse.app.generic_worker", "worker_name": name, "worker_listeners": listeners}
        if name != "main" and name.startswith("generic"):
            worker["worker_serves"] = ["client", "sync", "initial_sync", "federation"]
        else:
            # Writers take the traffic of what they write, not the general client traffic.
            worker["worker_serves"] = ["federation"] if name.startswith("persister") else ["client"]
        worker_files[name] = directory / "workers" / f"{name}.yaml"
        worker_files[name].write_text(yaml.safe_dump(worker, sort_keys=False))
    for queue in QUEUES:
        path = directory / "workers" / f"celery_{queue}.yaml"
        path.write_text(yaml.safe_dump({"worker_app": "synapse.app.generic_worker",
                                        "worker_name": f"celery_{queue}", "worker_listeners": []}))
        worker_files[f"celery_{queue}"] = path

    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("HS_", "DJANGO_"))}
    base_env.update({"DJANGO_SETTINGS_MODULE": "hsproject.settings", "PYTHONUNBUFFERED": "1",
                     "HS_CONFIG": str(shared_path), "HS_DATA_DIR": str(directory / "data")})

    proxy_conf = directory / "nginx" / "hs-proxy.conf"
    proxy_conf.parent.mkdir(exist_ok=True)
    old = {k: os.environ.get(k) for k in ("HS_CONFIG",)}
    os.environ["HS_CONFIG"] = str(shared_path)
    try:
        http_workers = [str(worker_files[n]) for n in instances[1:]]
        args = ["generate_proxy_config", "--format", "nginx", "--listen", f"127.0.0.1:{proxy_port}",
                "--output", str(proxy_conf)]
        for f in http_workers:
            args += ["--worker-config", f]
        call_command(*args, stdout=open(os.devnull, "w"))
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    topo = Topology(directory, proxy_port, public, replication)
    for name in instances:
        binds = [public[name]] + ([replication[name]] if name in replication else [])
        cmd = [sys.executable, "-m", "gunicorn", "hsproject.asgi:application", "-k", "uvicorn_worker.UvicornWorker",
               "-w", "1", "--graceful-timeout", "5"]
        for port in binds:
            cmd += ["-b", f"127.0.0.1:{port}"]
        env = dict(base_env)
        if name != "main":
            env["HS_WORKER_CONFIG"] = str(worker_files[name])
        topo.processes.append(Process(name, cmd, env, f"http://127.0.0.1:{public[name]}/_matrix/client/versions"))
    if celery:
        for queue in QUEUES:
            env = {**base_env, "HS_WORKER_CONFIG": str(worker_files[f"celery_{queue}"])}
            topo.processes.append(Process(f"celery_{queue}", [
                sys.executable, "-m", "celery", "-A", "hsproject", "worker", "-Q", queue, "-c", "1",
                "-n", f"{queue}@%h", "--without-gossip", "--without-mingle", "--loglevel", "INFO"], env))
        env = {**base_env, "HS_WORKER_CONFIG": str(worker_files["celery_background"])}
        topo.processes.append(Process("beat", [
            sys.executable, "-m", "celery", "-A", "hsproject", "beat", "--loglevel", "INFO",
            "-s", str(directory / "data" / "beat-schedule")], env))
    nginx_bin = nginx or shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if nginx_bin is None:
        raise RuntimeError("nginx is needed in front of the topology (apt-get install nginx-light)")
    conf = write_nginx_main_conf(directory / "nginx", proxy_conf)
    topo.processes.append(Process("nginx", [nginx_bin, "-p", str(directory / "nginx"), "-c", str(conf)],
                                  dict(base_env), f"http://127.0.0.1:{proxy_port}/_matrix/client/versions"))
    (directory / "data").mkdir(exist_ok=True)
    return topo


def write_nginx_main_conf(prefix: Path, include: Path) -> Path:
    """A self-contained nginx.conf (foreground, files under `prefix`) that includes the generated file."""
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(f"""daemon off;
master_process off;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {prefix}/logs/access.log;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {include};
}}
""")
    return conf


def migrate(topology: Topology) -> None:
    main = topology.process("main")
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=main.env, check=True,
                   stdout=subprocess.DEVNULL)
