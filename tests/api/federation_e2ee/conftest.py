"""Fixtures of the end-to-end encryption federation tests: a fake remote homeserver on loopback (a TLS
server named `127.0.0.1:<port>`, tests/federation_support.py) that signs its requests to us
(tests/api/federation/remote.py), records the requests we make to it (transactions, key queries) and
answers them from its routes; sending runs inline when a test turns it on (`sending`)."""
from __future__ import annotations

import dataclasses
import json
import re

import pytest

from apps.federation_sender import wakeups
from apps.rooms import state_store
from tests.api.federation.remote import FED, FakeRemote
from tests.api.rooms.helpers import create_room
from tests.federation_support import federation_tls, test_ca, tls_server  # noqa: F401

SEND = re.compile(r"^/_matrix/federation/v1/send/([^/?]+)$")
KEYS_QUERY = f"{FED}/v1/user/keys/query"


class Routes(dict):
    """PUT /send/{txnId} always answers 200 {"pdus": {}}; other paths as set by the test."""

    def get(self, path, default=None):
        if SEND.match(path):
            return lambda _rec: (200, {}, {"pdus": {}})
        return super().get(path, default)


class Remote:
    """The fake remote homeserver: `fake` signs requests to us, `server` answers ours."""

    def __init__(self, server, fake: FakeRemote):
        self.server, self.fake = server, fake
        self.device_keys: dict[str, dict] = {}  # what it answers to /user/keys/query: {user: {device: keys}}
        self.master_keys: dict[str, dict] = {}
        server.routes[KEYS_QUERY] = self._keys_query

    @property
    def name(self) -> str:
        return self.server.server_name

    def user(self, localpart: str) -> str:
        return self.fake.user(localpart)

    def _keys_query(self, rec):
        asked = json.loads(rec.body)["device_keys"]
        return 200, {}, {"device_keys": {u: {d: k for d, k in self.device_keys.get(u, {}).items() if not ds or d in ds}
                                         for u, ds in asked.items()},
                         "master_keys": {u: self.master_keys[u] for u in asked if u in self.master_keys}}

    def key_queries(self) -> list[dict]:
        """The bodies of the /user/keys/query requests it received, in order."""
        return [json.loads(r.body) for r in self.server.requests if r.method == "POST" and r.path == KEYS_QUERY]

    def transactions(self) -> list[dict]:
        return [json.loads(r.body) for r in self.server.requests if r.method == "PUT" and SEND.match(r.path)]

    def edus(self, edu_type: str | None = None) -> list[dict]:
        return [e["content"] for body in self.transactions() for e in body["edus"]
                if edu_type is None or e["edu_type"] == edu_type]

    def send_edu(self, edu_type: str, content: dict):
        """A transaction with one EDU, signed by this server."""
        resp = self.fake.send_transaction([], [{"edu_type": edu_type, "content": content}])
        assert resp.status_code == 200, resp.json_body
        return resp


@pytest.fixture(autouse=True)
def _fresh_state_cache():
    state_store.clear_cache()
    yield
    state_store.clear_cache()


def _remote(tls_server):  # noqa: F811
    server = tls_server()
    server.routes = Routes()
    return Remote(server, FakeRemote(server.server_name))


@pytest.fixture
def remote(tls_server, db):  # noqa: F811
    return _remote(tls_server)


@pytest.fixture
def other_remote(tls_server, db):  # noqa: F811
    """A second remote server."""
    return _remote(tls_server)


@pytest.fixture
def shared_room(alice, remote):
    """A public room of alice's that the remote's user `carol` has joined."""
    room_id = create_room(alice, preset="public_chat")
    remote.fake.join(room_id, remote.user("carol"))
    return room_id


@pytest.fixture
def sending(monkeypatch, settings):
    """Outbound federation on (the test settings turn it off), sent inline rather than on a thread."""
    settings.HS = settings.HS.replace(workers=dataclasses.replace(settings.HS.workers, send_federation=True))
    monkeypatch.setattr(wakeups, "IN_PROCESS_THREAD", False)
    monkeypatch.setattr(wakeups, "_heard", {})
    yield
    # Sending on may start the per-process typing and presence loops: none outlives the test.
    from apps.presence.loop import loop as presence_loop
    from apps.typing.timeouts import loop as typing_loop
    typing_loop().stop()
    presence_loop().stop()
