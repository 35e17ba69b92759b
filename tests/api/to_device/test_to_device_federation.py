"""`m.direct_to_device` EDUs from other servers (server-server API, "Send-to-device messaging"), received in
a PUT /send transaction: the messages reach the addressed local devices (`*`: every device) through
/sync, once per message_id; a sender of another server than the origin and malformed EDUs are dropped
without failing the transaction; an instance that does not write the `to_device` stream hands the EDU to
the writer's internal endpoint, which needs the replication secret."""
from __future__ import annotations

import dataclasses
import json

import pytest
from django.test import Client, RequestFactory

from apps.to_device import handlers
from tests.api.federation.remote import FakeRemote
from tests.api.sync.helpers import sync
from tests.api.to_device.test_sendToDevice import login
from tests.conftest import assert_error

pytestmark = pytest.mark.django_db(transaction=True)

PATH = "/_hs/replication/to_device/remote"
TYPE = "org.example.ping"


@pytest.fixture
def remote(db):
    return FakeRemote("remote.test")


def _edu(sender, messages, message_id="m1", message_type=TYPE):
    return {"edu_type": "m.direct_to_device",
            "content": {"sender": sender, "type": message_type, "message_id": message_id, "messages": messages}}


def test_a_remote_users_messages_reach_the_addressed_devices(alice, remote):
    alice2 = login(alice)
    since1, since2 = sync(alice)["next_batch"], sync(alice2)["next_batch"]
    carol = remote.user("carol")
    resp = remote.send_transaction([], [_edu(carol, {alice.user_id: {alice.device_id: {"n": 1}}}, "m1"),
                                        _edu(carol, {alice.user_id: {"*": {"n": 2}}}, "m2")])
    assert resp.status_code == 200 and resp.json_body == {"pdus": {}}
    got1 = sync(alice, since1)
    assert got1["to_device"]["events"] == [{"sender": carol, "type": TYPE, "content": {"n": 1}},
                                           {"sender": carol, "type": TYPE, "content": {"n": 2}}]
    assert sync(alice2, since2)["to_device"]["events"] == [{"sender": carol, "type": TYPE, "content": {"n": 2}}]

    # The same message_id again (the remote retried the transaction): nothing new.
    assert remote.send_transaction([], [_edu(carol, {alice.user_id: {"*": {"n": 2}}}, "m2")]).status_code == 200
    assert sync(alice, got1["next_batch"])["to_device"]["events"] == []


def test_foreign_senders_and_malformed_edus_are_dropped(alice, remote):
    since = sync(alice)["next_batch"]
    to_alice = {alice.user_id: {alice.device_id: {"n": 1}}}
    for edu in (_edu("@mallory:elsewhere.test", to_alice),  # not a user of the origin
                _edu(remote.user("carol"), {alice.user_id: {alice.device_id: "not an object"}}),
                _edu(remote.user("carol"), "not a map"),
                {"edu_type": "m.direct_to_device", "content": {"sender": remote.user("carol"), "messages": to_alice}}):
        assert remote.send_transaction([], [edu]).status_code == 200
    # The transaction goes on after them: a well-formed EDU in the same one is delivered.
    resp = remote.send_transaction([], [_edu(remote.user("carol"), "not a map", "x"),
                                        _edu(remote.user("carol"), to_alice, "ok")])
    assert resp.status_code == 200
    assert sync(alice, since)["to_device"]["events"] == [
        {"sender": remote.user("carol"), "type": TYPE, "content": {"n": 1}}]


def _with_secret(settings):
    settings.HS = settings.HS.replace(workers=dataclasses.replace(settings.HS.workers,
                                                                  worker_replication_secret="s3cret"))


def _post(body, secret=None):
    extra = {"HTTP_AUTHORIZATION": f"Bearer {secret}"} if secret else {}
    resp = Client().generic("POST", PATH, data=json.dumps(body), content_type="application/json", **extra)
    resp.json_body = resp.json()
    return resp


def test_the_writer_endpoint_needs_the_secret_and_a_well_formed_body(alice, settings):
    body = {"origin": "remote.test", "sender": "@carol:remote.test", "type": TYPE, "message_id": "m1",
            "messages": {alice.user_id: {"*": {}}}}
    assert_error(_post(body), 403, "M_FORBIDDEN")
    _with_secret(settings)
    assert_error(_post(body, "wrong"), 403, "M_FORBIDDEN")
    assert_error(_post({**body, "messages": []}, "s3cret"), 400, "M_BAD_JSON")
    assert_error(_post({**body, "message_id": 1}, "s3cret"), 400, "M_BAD_JSON")


def test_a_non_writer_hands_the_edu_to_the_writer(alice, remote, monkeypatch, settings):
    _with_secret(settings)
    since = sync(alice)["next_batch"]
    calls = []

    def call_instance(instance, path, payload, **kw):
        # The writer's side, as its replication listener runs it.
        from apps.to_device.views_replication import ReceiveRemoteView

        calls.append((instance, path, payload))
        request = RequestFactory().post(path, data=json.dumps(payload), content_type="application/json",
                                        HTTP_AUTHORIZATION="Bearer s3cret")
        return ReceiveRemoteView().handle(request)
    from apps.streams import replication_http
    from hsproject import instance as this_instance
    monkeypatch.setattr(replication_http, "call_instance", call_instance)
    monkeypatch.setattr(this_instance, "writes", lambda stream: stream != "to_device")

    carol = remote.user("carol")
    messages = {alice.user_id: {alice.device_id: {"n": 1}}}
    assert remote.send_transaction([], [_edu(carol, messages, "m1")]).status_code == 200
    monkeypatch.undo()
    assert calls == [("main", handlers.REPLICATION_REMOTE_PATH, {
        "origin": "remote.test", "sender": carol, "type": TYPE, "message_id": "m1", "messages": messages})]
    assert sync(alice, since)["to_device"]["events"] == [{"sender": carol, "type": TYPE, "content": {"n": 1}}]
