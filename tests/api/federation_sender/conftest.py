"""Fixtures of the outbound federation tests: a fake remote homeserver on loopback (a TLS server named
`127.0.0.1:<port>`, tests/federation_support.py) recording the transactions it is sent, with a joined
member in a local room; sending runs inline (no background thread)."""
from __future__ import annotations

import dataclasses
import json
import re

import pytest

from apps.federation_sender import wakeups
from apps.rooms import state_store
from tests.api.federation.remote import FakeRemote
from tests.api.rooms.helpers import create_room
from tests.federation_support import federation_tls, test_ca, tls_server  # noqa: F401

SEND = re.compile(r"^/_matrix/federation/v1/send/([^/?]+)$")


class SendRoutes(dict):
    """Answers every PUT /send/{txnId} from `answers` (status, body), else 200 {"pdus": {}}."""

    def __init__(self, answers: list):
        super().__init__()
        self.answers = answers

    def get(self, path, default=None):
        if SEND.match(path):
            def handler(_rec):
                status, body = self.answers.pop(0) if self.answers else (200, {"pdus": {}})
                return status, {}, body
            return handler
        return super().get(path, default)


class Remote:
    def __init__(self, server, fake: FakeRemote):
        self.server, self.fake = server, fake
        self.answers = server.routes.answers

    @property
    def name(self) -> str:
        return self.server.server_name

    def transactions(self) -> list[tuple[str, dict, dict]]:
        """(txnId, body, headers) of every PUT /send received, in order."""
        out = []
        for rec in self.server.requests:
            m = SEND.match(rec.path)
            if rec.method == "PUT" and m:
                out.append((m.group(1), json.loads(rec.body), rec.headers))
        return out

    def pdus(self) -> list[dict]:
        return [p for _, body, _ in self.transactions() for p in body["pdus"]]

    def edus(self, edu_type: str | None = None) -> list[dict]:
        return [e for _, body, _ in self.transactions() for e in body["edus"]
                if edu_type is None or e["edu_type"] == edu_type]


@pytest.fixture(autouse=True)
def _fresh_state_cache():
    state_store.clear_cache()
    yield
    state_store.clear_cache()


@pytest.fixture(autouse=True)
def _stop_loops():
    """The typing and presence loops are per-process threads: none outlives a test that started it."""
    yield
    from apps.presence.loop import loop as presence_loop
    from apps.typing.timeouts import loop as typing_loop
    typing_loop().stop()
    presence_loop().stop()


@pytest.fixture(autouse=True)
def _inline(monkeypatch, settings):
    """Sending on (the test settings turn it off for every other test), inline rather than on a thread."""
    settings.HS = settings.HS.replace(workers=dataclasses.replace(settings.HS.workers, send_federation=True))
    monkeypatch.setattr(wakeups, "IN_PROCESS_THREAD", False)
    monkeypatch.setattr(wakeups, "_heard", {})


@pytest.fixture
def remote(tls_server):  # noqa: F811
    server = tls_server()
    server.routes = SendRoutes([])
    return Remote(server, FakeRemote(server.server_name))


@pytest.fixture
def shared_room(alice, remote):
    """A public room of alice's that the remote's user has joined."""
    room_id = create_room(alice, preset="public_chat")
    remote.fake.join(room_id, remote.fake.user("bob"))
    # The join sent the remote alice's device list (tests/api/federation_device_lists_join): the tests
    # here start from what comes after it.
    remote.server.requests.clear()
    return room_id
