"""Federation with a real Synapse (PyPI `matrix-synapse`, pinned in tests/live/synapse.py): both servers on
loopback, started here, server names `127.0.0.1:<port>` (IP literals: no DNS), federation over HTTPS with
a test CA that both sides trust and nothing else.

Ours: gunicorn (main) on PostgreSQL and Redis, `celery -A hsproject worker -Q federation_sender` sending,
and nginx terminating TLS in front of the federation port, as a deployment would. Synapse: one process
on SQLite, serving TLS itself on its federation listener. Both are started once for the module; each
test registers its own pair of users.

- Chat: a user on our side creates a public room; the Synapse user joins it through its alias; both
  chat. Then the Synapse user creates a room and invites ours, who joins over federation; both chat.
  Each side sees the other's messages through /sync, in the order they were sent, from the right
  senders, with the same event IDs, and both servers' histories agree.
- EDUs: typing notifications, read receipts and to-device messages, each way.
- E2EE: device keys queried and one-time keys claimed across the servers, and a new device's keys
  announced to the other side (device_lists.changed, then /keys/query), each way.
- State: power levels given on our side let Synapse's user rename our room (refused before), the new
  name applied here; redactions from each side reach the other; leaving a room of the other server.

Synapse is installed into its own virtualenv on first use (about a minute); when that is impossible the
tests are skipped, except with CI=true, where they fail.
"""
from __future__ import annotations

import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import psycopg
import pytest
import yaml

from hsproject.localtopology import write_nginx_main_conf
from tests.federation_support import make_test_ca
from tests.live.servers import ROOT, _env, free_port, manage, running
from tests.live.synapse import SynapseUnavailable, running_synapse, synapse_config, synapse_python
from tests.services.test_event_persisters import gunicorn
from tests.services.test_sync_multiprocess import _pg

TIER = os.environ.get("HS_TEST_TIER", "fast")
pytestmark = [
    pytest.mark.services,
    pytest.mark.live,
    pytest.mark.skipif(TIER != "services", reason="needs PostgreSQL and Redis"),
]

API = "/_matrix/client/v3"
PASSWORD = "a long password 1"
WAIT_S = 30.0
# Only messages: each side's timeline also holds membership and state, which differ between the two.
MESSAGES_FILTER = '{"room":{"timeline":{"limit":50,"types":["m.room.message"]},"state":{"lazy_load_members":true}}}'


def _unavailable(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (required with CI=true)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def synapse_py() -> Path:
    try:
        return synapse_python()
    except SynapseUnavailable as e:
        _unavailable(f"Synapse could not be installed: {e}")


@pytest.fixture(scope="module")
def nginx_bin() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if found is None:
        _unavailable("nginx is not installed (.ci/run installs it)")
    return found


@pytest.fixture(scope="module")
def database():
    name = f"hs_synapse_interop_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dbname="postgres", autocommit=True, **_pg()) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **_pg()) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


@contextmanager
def _process(cmd: list[str], env: dict, log: Path):
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(env), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        yield proc
    finally:
        _stop(proc)


def _tls_front(directory: Path, nginx: str, listen_port: int, upstream_port: int, ca) -> list[str]:
    """nginx terminating TLS on `listen_port` for our federation listener; the request URI goes on
    unchanged (proxy_pass without a URI), as the X-Matrix signature covers it."""
    directory.mkdir(parents=True, exist_ok=True)
    site = directory / "tls-front.conf"
    site.write_text(f"""server {{
    listen 127.0.0.1:{listen_port} ssl;
    ssl_certificate {ca.cert_path};
    ssl_certificate_key {ca.key_path};
    client_max_body_size 50m;
    location / {{
        proxy_pass http://127.0.0.1:{upstream_port};
        proxy_http_version 1.1;
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_set_header X-Forwarded-Proto https;
        proxy_read_timeout 120s;
    }}
}}
""")
    conf = write_nginx_main_conf(directory, site)
    return [nginx, "-p", str(directory), "-c", str(conf)]


def _wait_tls(port: int, ca_path: Path, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"nginx exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            r = httpx.get(f"https://127.0.0.1:{port}/_matrix/federation/v1/version",
                          verify=ssl.create_default_context(cafile=str(ca_path)), timeout=2)
            if r.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the TLS front on port {port} did not answer")


class User:
    """One user on one server, with the /sync position it has read to."""

    def __init__(self, base: str, name: str, *, login: bool = False):
        """Registers `name`, or with `login` logs in to it as a new device."""
        self.http = httpx.Client(base_url=base, timeout=WAIT_S + 30)
        if login:
            r = self.http.post(f"{API}/login", json={"type": "m.login.password", "password": PASSWORD,
                                                      "identifier": {"type": "m.id.user", "user": name}})
        else:
            r = self.http.post(f"{API}/register", json={"username": name, "password": PASSWORD,
                                                          "auth": {"type": "m.login.dummy"}})
        assert r.status_code == 200, r.text
        self.user_id, self.device_id = r.json()["user_id"], r.json()["device_id"]
        self.http.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        self.since: str | None = None
        self.seen: dict[str, list[dict]] = {}  # room -> messages in timeline order
        self.invites: set[str] = set()
        self.typing: dict[str, list[str]] = {}  # room -> user IDs typing, as last told
        self.receipts: dict[str, dict[str, set[str]]] = {}  # room -> event -> users with an m.read on it
        self.to_device: list[dict] = []
        self.device_lists_changed: set[str] = set()
        self.sync(timeout_ms=0)

    def call(self, method: str, path: str, **kwargs) -> dict:
        r = self.http.request(method, f"{API}{path}", **kwargs)
        assert r.status_code == 200, f"{method} {path} on {self.user_id}'s server: {r.status_code} {r.text}"
        return r.json()

    def sync(self, timeout_ms: int) -> None:
        params = {"filter": MESSAGES_FILTER, "timeout": str(timeout_ms)}
        if self.since:
            params["since"] = self.since
        body = self.call("GET", "/sync", params=params)
        self.since = body["next_batch"]
        for room_id, room in body.get("rooms", {}).get("join", {}).items():
            known = self.seen.setdefault(room_id, [])
            ids = {e["event_id"] for e in known}
            known += [e for e in room.get("timeline", {}).get("events", [])
                      if e["type"] == "m.room.message" and e["event_id"] not in ids]
            for e in room.get("ephemeral", {}).get("events", []):
                if e["type"] == "m.typing":
                    self.typing[room_id] = e["content"]["user_ids"]
                elif e["type"] == "m.receipt":
                    for event_id, kinds in e["content"].items():
                        readers = self.receipts.setdefault(room_id, {}).setdefault(event_id, set())
                        readers |= set(kinds.get("m.read", {}))
        self.to_device += body.get("to_device", {}).get("events", [])
        self.device_lists_changed |= set(body.get("device_lists", {}).get("changed", []))
        self.invites |= set(body.get("rooms", {}).get("invite", {}))

    def poll(self, predicate, what: str):
        """Waits for `predicate`, a question to the server other than /sync, asked again and again."""
        deadline = time.monotonic() + WAIT_S
        while not predicate():
            assert time.monotonic() < deadline, f"{self.user_id} waited {WAIT_S}s for {what}"
            time.sleep(0.1)

    def wait(self, predicate, what: str):
        deadline = time.monotonic() + WAIT_S
        while not predicate():
            left = deadline - time.monotonic()
            assert left > 0, f"{self.user_id} waited {WAIT_S}s for {what}"
            self.sync(timeout_ms=int(min(left, 5) * 1000))

    def messages(self, room_id: str) -> list[tuple[str, str, str]]:
        return [(e["event_id"], e["sender"], e["content"].get("body")) for e in self.seen.get(room_id, [])]

    def wait_messages(self, room_id: str, count: int) -> list[tuple[str, str, str]]:
        self.wait(lambda: len(self.seen.get(room_id, [])) >= count, f"{count} messages in {room_id}")
        return self.messages(room_id)

    def send(self, room_id: str, body: str) -> str:
        txn = uuid.uuid4().hex
        return self.call("PUT", f"/rooms/{quote(room_id)}/send/m.room.message/{txn}",
                         json={"msgtype": "m.text", "body": body})["event_id"]

    def history(self, room_id: str) -> list[tuple[str, str, str]]:
        """The room's messages from the server's own store (/messages backwards), oldest first."""
        chunk = self.call("GET", f"/rooms/{quote(room_id)}/messages",
                          params={"dir": "b", "limit": "100", "filter": '{"types":["m.room.message"]}'})["chunk"]
        return [(e["event_id"], e["sender"], e["content"].get("body")) for e in reversed(chunk)]

    def joined_members(self, room_id: str) -> set[str]:
        return set(self.call("GET", f"/rooms/{quote(room_id)}/joined_members")["joined"])

    def upload_keys(self) -> tuple[dict, dict]:
        """Device keys and one signed one-time key of this device, as a client makes them (an ed25519
        key signing, a curve25519 identity key); returns (device_keys, one_time_keys) as uploaded."""
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
        from signedjson.key import encode_verify_key_base64, generate_signing_key, get_verify_key
        from signedjson.sign import sign_json
        from unpaddedbase64 import encode_base64

        def curve25519() -> str:
            return encode_base64(X25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))

        signing = generate_signing_key(self.device_id)  # signs as ed25519:<device_id>
        device_keys = sign_json({
            "user_id": self.user_id, "device_id": self.device_id,
            "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
            "keys": {f"curve25519:{self.device_id}": curve25519(),
                     f"ed25519:{self.device_id}": encode_verify_key_base64(get_verify_key(signing))}},
            self.user_id, signing)
        one_time_keys = {"signed_curve25519:AAAAAQ": sign_json({"key": curve25519()}, self.user_id, signing)}
        counts = self.call("POST", "/keys/upload", json={"device_keys": device_keys, "one_time_keys": one_time_keys})
        assert counts["one_time_key_counts"].get("signed_curve25519") == 1, counts
        return device_keys, one_time_keys

    def query_keys(self, user_id: str) -> dict:
        """device ID -> device keys of `user_id` as this user's server answers /keys/query (without the
        `unsigned` part, which each server fills in its own way)."""
        body = self.call("POST", "/keys/query", json={"device_keys": {user_id: []}})
        assert not body.get("failures"), body
        return {d: {k: v for k, v in keys.items() if k != "unsigned"}
                for d, keys in body["device_keys"].get(user_id, {}).items()}

    def close(self) -> None:
        self.http.close()


def _chat(room_id: str, first: User, second: User) -> None:
    """`first` sends two messages, `second` waits for them and answers with two, `first` waits for those;
    both see all four in that order with the same event IDs and senders, live and in history."""
    sent = []
    for i in (1, 2):
        sent.append((first.send(room_id, f"{i} from {first.user_id}"), first.user_id, f"{i} from {first.user_id}"))
    got = second.wait_messages(room_id, 2)
    assert got == sent, (got, sent)
    for i in (3, 4):
        sent.append((second.send(room_id, f"{i} from {second.user_id}"), second.user_id,
                     f"{i} from {second.user_id}"))
    got = first.wait_messages(room_id, 4)
    assert got == sent, (got, sent)
    second.wait_messages(room_id, 4)
    assert second.messages(room_id) == sent
    assert first.history(room_id) == sent
    assert second.history(room_id) == sent


@dataclass
class Pair:
    """Our server and Synapse, running, federating with each other."""

    our_base: str
    our_name: str
    synapse_base: str
    synapse_name: str
    logs: list[Path]

    @contextmanager
    def logs_on_failure(self):
        try:
            yield
        except BaseException:
            for log in self.logs:
                if log.exists():
                    print(f"==== {log.name} (end) ====\n{log.read_text(errors='replace')[-6000:]}")
            raise


@pytest.fixture(scope="module")
def pair(tmp_path_factory, database, synapse_py, nginx_bin):
    import redis

    tmp_path = tmp_path_factory.mktemp("synapse_interop")
    redis_db = int(os.environ.get("HS_TEST_REDIS_DB", "5"))
    redis_port = int(os.environ.get("HS_TEST_REDIS_PORT", "6379"))
    redis.Redis(host="127.0.0.1", port=redis_port, db=redis_db).flushdb()
    ca = make_test_ca(tmp_path / "ca")

    hs_port, repl_port, fed_port = free_port(), free_port(), free_port()
    syn_fed_port, syn_client_port = free_port(), free_port()
    ours_name, theirs_name = f"127.0.0.1:{fed_port}", f"127.0.0.1:{syn_fed_port}"

    ours = tmp_path / "hsproject"
    ours.mkdir()
    config = {
        "server_name": ours_name,
        "public_baseurl": f"http://127.0.0.1:{hs_port}/",
        "form_secret": "interop-form-secret",
        "enable_registration": True,
        "enable_registration_without_verification": True,
        "signing_key_path": str(ours / "signing.key"),
        "media_store_path": str(ours / "media"),
        "database": {"name": "psycopg2", "args": {"database": database, **_pg()}},
        "redis": {"enabled": True, "host": "127.0.0.1", "port": redis_port, "dbid": redis_db},
        "listeners": [{"port": hs_port, "bind_addresses": ["127.0.0.1"], "type": "http", "x_forwarded": True,
                       "resources": [{"names": ["client", "federation"]}]},
                      {"port": repl_port, "bind_addresses": ["127.0.0.1"], "type": "http",
                       "resources": [{"names": ["replication"]}]}],
        "instance_map": {"main": {"host": "127.0.0.1", "port": repl_port}},
        "worker_replication_secret": "interop-replication-secret",
        "send_federation": True,
        "federation_verify_certificates": True,
        "federation_custom_ca_list": [str(ca.ca_path)],
        "ip_range_blacklist": ["0.0.0.0/0", "::/0"],
        "ip_range_whitelist": ["127.0.0.0/8"],
        # Synapse's presence is off (its config): ours too, so that nothing waits on presence.
        "presence": {"enabled": False},
        "rc_message": {"per_second": 1000, "burst_count": 1000},
        "rc_registration": {"per_second": 1000, "burst_count": 1000},
        "rc_joins": {"local": {"per_second": 1000, "burst_count": 1000},
                     "remote": {"per_second": 1000, "burst_count": 1000}},
    }
    (ours / "homeserver.yaml").write_text(yaml.safe_dump(config))
    (ours / "celery_federation_sender.yaml").write_text(yaml.safe_dump({
        "worker_app": "synapse.app.generic_worker", "worker_name": "celery_federation_sender",
        "worker_listeners": []}))
    env = {"HS_CONFIG": str(ours / "homeserver.yaml"), "HS_DATA_DIR": str(ours / "data")}
    manage(["migrate", "--noinput"], env)

    theirs = tmp_path / "synapse"
    theirs.mkdir()
    syn_config = synapse_config(theirs, federation_port=syn_fed_port, client_port=syn_client_port,
                                ca_path=ca.ca_path, cert_path=ca.cert_path, key_path=ca.key_path)

    with ExitStack() as stack:
        our_base = stack.enter_context(running(gunicorn(hs_port, repl_port), env, hs_port, ours / "main.log"))
        stack.enter_context(_process(
            [sys.executable, "-m", "celery", "-A", "hsproject", "worker", "-Q", "federation_sender", "-c", "2",
             "-n", f"fedsender-{uuid.uuid4().hex[:6]}@%h", "--without-gossip", "--without-mingle",
             "--loglevel", "INFO"],
            {**env, "HS_WORKER_CONFIG": str(ours / "celery_federation_sender.yaml")}, ours / "celery.log"))
        front = stack.enter_context(_process(_tls_front(ours / "nginx", nginx_bin, fed_port, hs_port, ca), {},
                                             ours / "nginx.out"))
        _wait_tls(fed_port, ca.ca_path, front, ours / "nginx" / "logs" / "error.log")
        syn_base = stack.enter_context(running_synapse(synapse_py, theirs, syn_config))
        yield Pair(our_base, ours_name, syn_base, theirs_name,
                   [ours / "main.log", ours / "celery.log", theirs / "synapse.log"])


@pytest.fixture
def users(pair):
    """A new user on each side (names unique per test)."""
    tag = uuid.uuid4().hex[:6]
    ours, theirs = User(pair.our_base, f"alice_{tag}"), User(pair.synapse_base, f"bob_{tag}")
    assert ours.user_id == f"@alice_{tag}:{pair.our_name}" and theirs.user_id == f"@bob_{tag}:{pair.synapse_name}"
    yield ours, theirs
    ours.close()
    theirs.close()


def _federated_room(pair: Pair, alice: User, bob: User, alias: str) -> str:
    """A public room of ours that bob (on Synapse) joins through its alias: a federation directory
    query, then make_join/send_join against us."""
    room_id = alice.call("POST", "/createRoom", json={
        "preset": "public_chat", "room_alias_name": alias, "name": "hsproject's room"})["room_id"]
    joined = bob.call("POST", f"/join/{quote(f'#{alias}:{pair.our_name}')}", json={})
    assert joined["room_id"] == room_id
    assert alice.joined_members(room_id) == bob.joined_members(room_id) == {alice.user_id, bob.user_id}
    return room_id


def test_chat_with_a_real_synapse_both_ways(pair, users):
    alice, bob = users
    with pair.logs_on_failure():
        room_ours = _federated_room(pair, alice, bob, "interop")
        _chat(room_ours, alice, bob)

        # Synapse's room: an invite over federation, then our remote join.
        room_theirs = bob.call("POST", "/createRoom", json={"preset": "private_chat", "name": "Synapse's room",
                                                          "invite": [alice.user_id]})["room_id"]
        alice.wait(lambda: room_theirs in alice.invites, f"the invite to {room_theirs}")
        assert alice.call("POST", f"/rooms/{quote(room_theirs)}/join", json={})["room_id"] == room_theirs
        bob.poll(lambda: alice.user_id in bob.joined_members(room_theirs), "alice's join")
        assert alice.joined_members(room_theirs) == {alice.user_id, bob.user_id}
        _chat(room_theirs, bob, alice)


def test_typing_receipts_and_to_device_with_a_real_synapse(pair, users):
    alice, bob = users
    with pair.logs_on_failure():
        room_id = _federated_room(pair, alice, bob, "ephemeral")
        _chat(room_id, alice, bob)
        last_of_alice, last_of_bob = alice.messages(room_id)[1][0], alice.messages(room_id)[3][0]

        # Typing (m.typing EDUs), each way.
        for typist, watcher in ((bob, alice), (alice, bob)):
            typist.call("PUT", f"/rooms/{quote(room_id)}/typing/{quote(typist.user_id)}",
                        json={"typing": True, "timeout": 30000})
            watcher.wait(lambda: typist.user_id in watcher.typing.get(room_id, ()),
                         f"{typist.user_id} typing in {room_id}")

        # Read receipts (m.receipt EDUs), each way, on the other's last message.
        for reader, event_id, watcher in ((alice, last_of_bob, bob), (bob, last_of_alice, alice)):
            reader.call("POST", f"/rooms/{quote(room_id)}/receipt/m.read/{quote(event_id)}", json={})
            watcher.wait(lambda: reader.user_id in watcher.receipts.get(room_id, {}).get(event_id, ()),
                         f"{reader.user_id}'s read receipt on {event_id}")

        # To-device messages (m.direct_to_device EDUs), each way, to one device and to all of them.
        for sender, recipient, device in ((alice, bob, bob.device_id), (bob, alice, "*")):
            content = {"hello": f"from {sender.user_id}"}
            sender.call("PUT", f"/sendToDevice/org.example.interop/{uuid.uuid4().hex}",
                        json={"messages": {recipient.user_id: {device: content}}})
            recipient.wait(lambda: any(e["sender"] == sender.user_id and e["type"] == "org.example.interop"
                                       and e["content"] == content for e in recipient.to_device),
                           f"the to-device message of {sender.user_id}")


def test_device_keys_across_servers(pair, users):
    """E2EE key exchange over federation (/user/keys/query, /user/keys/claim) and device-list updates
    (m.device_list_update EDUs) between users who share a room, each way."""
    alice, bob = users
    with pair.logs_on_failure():
        _federated_room(pair, alice, bob, "keys")
        uploaded = {alice.user_id: alice.upload_keys(), bob.user_id: bob.upload_keys()}

        for asker, owner in ((alice, bob), (bob, alice)):
            device_keys, one_time_keys = uploaded[owner.user_id]
            assert asker.query_keys(owner.user_id) == {owner.device_id: device_keys}
            claimed = asker.call("POST", "/keys/claim", json={
                "one_time_keys": {owner.user_id: {owner.device_id: "signed_curve25519"}}})
            assert not claimed.get("failures"), claimed
            assert claimed["one_time_keys"] == {owner.user_id: {owner.device_id: one_time_keys}}

        # A new device with keys: the other side is told (device_lists.changed) and then sees both.
        for owner, watcher in ((alice, bob), (bob, alice)):
            base = pair.our_base if owner is alice else pair.synapse_base
            watcher.sync(timeout_ms=0)
            watcher.device_lists_changed.clear()  # what the join itself reported is read
            second = User(base, owner.user_id, login=True)
            try:
                second_keys, _ = second.upload_keys()
                expected = {owner.device_id: uploaded[owner.user_id][0], second.device_id: second_keys}
                watcher.wait(lambda: owner.user_id in watcher.device_lists_changed,
                             f"{owner.user_id} in device_lists.changed")
                # Told of a change, a client asks again; the change may have been the login (a device
                # without keys yet) and the keys come in a second update.
                watcher.poll(lambda: watcher.query_keys(owner.user_id) == expected,
                             f"both devices of {owner.user_id}")
            finally:
                second.close()


def _state(user: User, room_id: str, event_type: str, state_key: str = "") -> dict:
    return user.call("GET", f"/rooms/{quote(room_id)}/state/{event_type}/{quote(state_key)}")


def _redacted(user: User, room_id: str, event_id: str) -> bool:
    event = user.call("GET", f"/rooms/{quote(room_id)}/event/{quote(event_id)}")
    return event["content"] == {} and "redacted_because" in event.get("unsigned", {})


def test_power_levels_state_redactions_and_leaving_across_servers(pair, users):
    """State sent on one server is authorised and applied on the other: our user gives Synapse's user
    power, who then renames our room; redactions from each side reach the other; leaving a room of the
    other server is seen there. Then the same in Synapse's room."""
    alice, bob = users
    with pair.logs_on_failure():
        room_ours = _federated_room(pair, alice, bob, "state")
        _chat(room_ours, alice, bob)
        (alice_msg, _, _), _, (bob_msg, _, _), _ = alice.messages(room_ours)

        levels = _state(alice, room_ours, "m.room.power_levels")
        refused = bob.http.put(f"{API}/rooms/{quote(room_ours)}/state/m.room.name/",
                               json={"name": "renamed on Synapse"})
        assert refused.status_code == 403, refused.text  # Synapse applies our room's power levels
        alice.call("PUT", f"/rooms/{quote(room_ours)}/state/m.room.power_levels/",
                   json={**levels, "users": {**levels.get("users", {}), bob.user_id: 50}})
        bob.poll(lambda: _state(bob, room_ours, "m.room.power_levels").get("users", {}).get(bob.user_id) == 50,
                 "bob's power level")
        bob.call("PUT", f"/rooms/{quote(room_ours)}/state/m.room.name/", json={"name": "renamed on Synapse"})
        alice.poll(lambda: _state(alice, room_ours, "m.room.name") == {"name": "renamed on Synapse"},
                   "the new room name")

        # Each redacts their own message; both servers show both redacted.
        alice.call("PUT", f"/rooms/{quote(room_ours)}/redact/{quote(alice_msg)}/{uuid.uuid4().hex}", json={})
        bob.call("PUT", f"/rooms/{quote(room_ours)}/redact/{quote(bob_msg)}/{uuid.uuid4().hex}", json={})
        for user in (alice, bob):
            for event_id in (alice_msg, bob_msg):
                user.poll(lambda: _redacted(user, room_ours, event_id), f"{event_id} redacted")

        # Bob leaves our room (a membership event sent from Synapse).
        bob.call("POST", f"/rooms/{quote(room_ours)}/leave", json={})
        alice.poll(lambda: alice.joined_members(room_ours) == {alice.user_id}, "bob's leave")

        # Synapse's room: alice invited, joins, leaves (a membership event sent from here).
        room_theirs = bob.call("POST", "/createRoom", json={"preset": "private_chat",
                                                          "invite": [alice.user_id]})["room_id"]
        alice.wait(lambda: room_theirs in alice.invites, f"the invite to {room_theirs}")
        alice.call("POST", f"/rooms/{quote(room_theirs)}/join", json={})
        bob.poll(lambda: alice.user_id in bob.joined_members(room_theirs), "alice's join")
        alice.call("POST", f"/rooms/{quote(room_theirs)}/leave", json={})
        bob.poll(lambda: bob.joined_members(room_theirs) == {bob.user_id}, "alice's leave")
        assert _state(bob, room_theirs, "m.room.member", alice.user_id)["membership"] == "leave"
