"""Fixtures of the tests of device lists sent when a server starts sharing a room with local users: a fake
remote homeserver on loopback (tests/federation_support.py `remote_server`) that takes every transaction
it is sent and records it, and outbound federation turned on and run inline (`sending`)."""
from __future__ import annotations

import dataclasses
import json
import re

import pytest

from apps.federation_sender import wakeups
from tests.federation_support import (PrefixRoutes, federation_tls, fresh_state_cache,  # noqa: F401
                                      remote_hs, remote_server, test_ca, tls_server)

FED = "/_matrix/federation"
SEND = re.compile(r"^/_matrix/federation/v1/send/([^/?]+)$")
UPDATE = "m.device_list_update"


class Remote:
    """The fake remote homeserver: `fake` signs its requests and events, `server` answers ours."""

    def __init__(self, server, fake):
        self.server, self.fake = server, fake
        server.routes[f"{FED}/v1/send/"] = lambda _rec: (200, {}, {"pdus": {}})

    @property
    def name(self) -> str:
        return self.server.server_name

    def user(self, localpart: str) -> str:
        return self.fake.user(localpart)

    def transactions(self) -> list[dict]:
        return [json.loads(r.body) for r in self.server.requests if r.method == "PUT" and SEND.match(r.path)]

    def edus(self, edu_type: str = UPDATE) -> list[dict]:
        return [e["content"] for body in self.transactions() for e in body["edus"] if e["edu_type"] == edu_type]

    def updates_of(self, user_id: str) -> list[dict]:
        return [e for e in self.edus() if e["user_id"] == user_id]


@pytest.fixture
def remote(remote_server):  # noqa: F811
    return Remote(*remote_server)


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
