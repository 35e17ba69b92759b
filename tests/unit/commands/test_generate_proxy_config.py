"""`manage.py generate_proxy_config`: the plan sends each row where the topology says, nginx and HAProxy
accept the output (`nginx -t`, `haproxy -c`), and a real nginx running the output routes requests by
method, path, `since` and hash key to the right process (fake upstreams that answer with their name).

nginx and HAProxy come from the system (`.ci/run` installs them); without CI=true a machine without them
skips the tests that run them."""
from __future__ import annotations

import http.server
import io
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from hsproject.config import load_from_files
from hsproject.proxy.plan import SYNC_SPLIT, build_plan, path_regex
from hsproject.routing import all_routes
from tests.live.servers import free_port

CI = os.environ.get("CI") == "true"


def need(binary: str) -> str:
    path = shutil.which(binary) or (f"/usr/sbin/{binary}" if os.path.exists(f"/usr/sbin/{binary}") else None)
    if path is None:
        if CI:
            pytest.fail(f"{binary} is required with CI=true (.ci/run installs it)")
        pytest.skip(f"{binary} is not installed")
    return path


WORKERS = {
    "sync1": ["sync"], "sync2": ["sync"], "initial1": ["initial_sync"],
    "client1": ["client"], "client2": ["client"], "fed1": ["federation"], "typing1": ["client"],
}


def write_topology(tmp_path: Path, ports: dict[str, int]) -> tuple[Path, list[Path]]:
    names = ["main", *WORKERS, "media1"]
    shared = {
        "server_name": "example.org",
        "database": {"name": "psycopg2", "args": {"database": "unused", "host": "127.0.0.1"}},
        "listeners": [{"port": ports["main"], "bind_addresses": ["127.0.0.1"], "type": "http",
                       "resources": [{"names": ["client", "federation"]}]},
                      {"port": free_port(), "bind_addresses": ["127.0.0.1"], "type": "http",
                       "resources": [{"names": ["replication"]}]}],
        "instance_map": {n: {"host": "127.0.0.1", "port": 20000 + i} for i, n in enumerate(names)},
        "stream_writers": {"typing": "typing1"},
        "worker_replication_secret": "s" * 40,
    }
    shared_path = tmp_path / "homeserver.yaml"
    shared_path.write_text(yaml.safe_dump(shared))
    files = []
    for name, serves in [*WORKERS.items(), ("media1", [])]:
        resources = ["media"] if name == "media1" else (["federation"] if name == "fed1" else ["client"])
        listeners = [{"port": ports[name], "bind_addresses": ["127.0.0.1"], "type": "http",
                      "resources": [{"names": resources}]}]
        if name == "typing1":
            listeners.append({"port": free_port(), "bind_addresses": ["127.0.0.1"], "type": "http",
                              "resources": [{"names": ["replication"]}]})
        worker = {"worker_app": "synapse.app.media_repository" if name == "media1" else "synapse.app.generic_worker",
                  "worker_name": name, "worker_listeners": listeners}
        if serves:
            worker["worker_serves"] = serves
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(worker))
        files.append(path)
    return shared_path, files


@pytest.fixture
def topology(tmp_path):
    ports = {n: free_port() for n in ["main", *WORKERS, "media1"]}
    shared, files = write_topology(tmp_path, ports)
    return shared, files, ports


def generate(shared: Path, files: list[Path], fmt: str, listen: str) -> str:
    out = io.StringIO()
    old = os.environ.get("HS_CONFIG")
    os.environ["HS_CONFIG"] = str(shared)
    try:
        call_command("generate_proxy_config", "--format", fmt, "--listen", listen,
                     *[a for f in files for a in ("--worker-config", str(f))], stdout=out)
    finally:
        if old is None:
            os.environ.pop("HS_CONFIG", None)
        else:
            os.environ["HS_CONFIG"] = old
    return out.getvalue()


def rule_for(plan, method: str, path: str):
    import re
    for rule in plan.rules:
        if method in rule.methods and re.fullmatch(rule.regex, path):
            return rule.pool
    return plan.default_pool


def test_plan_routes_by_method_path_and_writer(topology):
    shared, files, ports = topology
    configs = [load_from_files(str(shared), None)] + [load_from_files(str(shared), str(f)) for f in files]
    plan = build_plan(configs, all_routes())
    c = "/_matrix/client/v3"
    assert rule_for(plan, "GET", f"{c}/sync") == SYNC_SPLIT
    assert rule_for(plan, "PUT", f"{c}/rooms/!r:example.org/send/m.room.message/t1") == "hs_client_room"
    assert rule_for(plan, "GET", f"{c}/login") in ("hs_client", "hs_client_user")
    # Creating a device moves device_lists, which main writes.
    assert rule_for(plan, "POST", f"{c}/login") == "hs_main"
    assert rule_for(plan, "PUT", "/_matrix/federation/v1/send/txn1") == "hs_federation_ip"
    assert rule_for(plan, "POST", "/_matrix/media/v3/upload") == "hs_media"
    assert {s[1] for s in plan.pool("hs_sync").servers} == {ports["sync1"], ports["sync2"]}
    assert {s[1] for s in plan.pool("hs_initial_sync").servers} == {ports["initial1"]}
    assert plan.pool("hs_sync").hash == "user" and plan.pool("hs_client_room").hash == "room"
    assert {s[1] for s in plan.pool("hs_media").servers} == {ports["media1"]}
    # No routing-table row reaches a replication endpoint.
    assert all("/_synapse/replication" not in r.regex for r in plan.rules)
    typing_rows = [r for r in all_routes() if r.writes == "typing"]
    for row in typing_rows:
        assert next(p.pool for p in plan.rules if p.regex == path_regex(row.pattern)) == "hs_writer_typing"
    if typing_rows:
        assert plan.pool("hs_writer_typing").servers == (("127.0.0.1", ports["typing1"]),)


def test_a_writer_without_a_worker_file_is_refused(topology):
    shared, files, _ = topology
    with pytest.raises(CommandError, match="typing1"):
        generate(shared, [f for f in files if f.stem != "typing1"], "nginx", "127.0.0.1:8080")


def test_a_bad_worker_serves_value_names_the_key(tmp_path, topology):
    shared, files, _ = topology
    bad = yaml.safe_load(files[0].read_text())
    bad["worker_serves"] = ["everything"]
    files[0].write_text(yaml.safe_dump(bad))
    with pytest.raises(CommandError, match="worker_serves"):
        generate(shared, files, "nginx", "127.0.0.1:8080")


def test_nginx_accepts_the_output(tmp_path, topology):
    nginx = need("nginx")
    shared, files, _ = topology
    conf = write_nginx_conf(tmp_path, generate(shared, files, "nginx", f"127.0.0.1:{free_port()}"))
    check = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_haproxy_accepts_the_output(tmp_path, topology):
    haproxy = need("haproxy")
    shared, files, _ = topology
    path = tmp_path / "haproxy.cfg"
    path.write_text(generate(shared, files, "haproxy", f"127.0.0.1:{free_port()}"))
    check = subprocess.run([haproxy, "-c", "-f", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def write_nginx_conf(prefix: Path, generated: str) -> Path:
    (prefix / "logs").mkdir(exist_ok=True)
    (prefix / "hs-proxy.conf").write_text(generated)
    conf = prefix / "nginx.conf"
    conf.write_text(f"""daemon off;
master_process off;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {prefix}/hs-proxy.conf;
}}
""")
    return conf


class _NameHandler(http.server.BaseHTTPRequestHandler):
    def _answer(self):
        body = self.server.instance_name.encode()
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_DELETE = _answer

    def log_message(self, *args):
        pass


def test_nginx_routes_requests_to_the_right_process(tmp_path, topology):
    nginx = need("nginx")
    shared, files, ports = topology
    servers = []
    for name, port in ports.items():
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), _NameHandler)
        srv.instance_name = name
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
    listen = free_port()
    conf = write_nginx_conf(tmp_path, generate(shared, files, "nginx", f"127.0.0.1:{listen}"))
    proc = subprocess.Popen([nginx, "-p", str(tmp_path), "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    base = f"http://127.0.0.1:{listen}"

    def who(method: str, path: str, token: str | None = None) -> str:
        req = urllib.request.Request(base + path, method=method, data=b"{}" if method in ("PUT", "POST") else None)
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.read().decode()
        except urllib.error.HTTPError as e:
            return f"HTTP {e.code}"

    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                who("GET", "/_matrix/client/versions")
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError(proc.stderr.read().decode() if proc.poll() is not None else "nginx did not start")
                time.sleep(0.1)
        c = "/_matrix/client/v3"
        assert who("GET", f"{c}/sync", "syt_YWxpY2U_abc_def") == "initial1"
        incremental = {who("GET", f"{c}/sync?since=s1_2", f"syt_{u}_tok_crc") for u in ("dTE", "dTI", "dTM", "dTQ", "dTU", "dTY")}
        assert incremental <= {"sync1", "sync2"} and incremental
        # One user's long-polls always land on one process, whatever the device's token.
        assert len({who("GET", f"{c}/sync?since=s1", f"syt_YWxpY2U_{d}_x") for d in "abcdefgh"}) == 1
        # One room's sends meet on one event creator.
        assert len({who("PUT", f"{c}/rooms/!room1:example.org/send/m.room.message/t{i}") for i in range(8)}) == 1
        assert who("PUT", f"{c}/rooms/!room1:example.org/send/m.room.message/t1") in ("client1", "client2", "typing1")
        assert who("PUT", "/_matrix/federation/v1/send/txn1") == "fed1"
        assert who("POST", "/_matrix/media/v3/upload") == "media1"
        assert who("GET", "/_synapse/replication/anything") == "HTTP 404"
        assert who("POST", "/_hs/replication/persist_event/!r:example.org") == "HTTP 404"
        assert who("GET", "/_synapse/admin/v1/server_version") == "main"
        if any(r.writes == "typing" for r in all_routes()):
            assert who("PUT", f"{c}/rooms/!room1:example.org/typing/@a:example.org") == "typing1"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
        for srv in servers:
            srv.shutdown()
            srv.server_close()
