"""Receipts stored from an instance that does not write the `receipts` stream (a federation worker's
m.receipt EDU) go to the writer's internal endpoint (which needs the replication secret), and the
writer's answer is awaited."""
from __future__ import annotations

import dataclasses
import json

import pytest
from django.test import Client

from apps.receipts import handlers
from apps.receipts.models import Receipt
from tests.api.rooms.helpers import create_room, send
from tests.api.sync.helpers import sync
from tests.conftest import assert_error

pytestmark = pytest.mark.django_db(transaction=True)

PATH = "/_hs/replication/receipts/write"
API = "/_matrix/client/v3"


def _with_secret(settings):
    settings.HS = settings.HS.replace(workers=dataclasses.replace(settings.HS.workers,
                                                                  worker_replication_secret="s3cret"))


def _post(body, secret=None):
    extra = {"HTTP_AUTHORIZATION": f"Bearer {secret}"} if secret else {}
    resp = Client().generic("POST", PATH, data=json.dumps(body), content_type="application/json", **extra)
    resp.json_body = resp.json()
    return resp


def test_endpoint_needs_the_secret_and_a_well_formed_body(alice, settings):
    body = {"room_id": "!r:x", "user_id": alice.user_id, "receipt_type": "m.read", "thread_key": "",
            "event_id": "$e", "event_stream_ordering": 1, "ts": 1}
    assert_error(_post(body), 403, "M_FORBIDDEN")
    _with_secret(settings)
    assert_error(_post(body, "wrong"), 403, "M_FORBIDDEN")
    assert_error(_post({**body, "ts": "soon"}, "s3cret"), 400, "M_BAD_JSON")
    assert_error(_post({**body, "event_stream_ordering": True}, "s3cret"), 400, "M_BAD_JSON")


def test_a_non_writer_forwards_to_the_writer(alice, bob, monkeypatch, settings):
    _with_secret(settings)
    room_id = create_room(alice, preset="public_chat")
    assert bob.post(f"{API}/join/{room_id}").status_code == 200
    ev = send(alice, room_id).json_body["event_id"]
    since = sync(alice)["next_batch"]
    calls = []

    def call_instance(instance, path, payload, **kw):
        # The writer's side, as its replication listener runs it.
        from django.test import RequestFactory

        from apps.receipts.views_replication import WriteReceiptView

        calls.append((instance, path))
        request = RequestFactory().post(path, data=json.dumps(payload), content_type="application/json",
                                        HTTP_AUTHORIZATION="Bearer s3cret")
        return WriteReceiptView().handle(request)
    from apps.streams import replication_http
    from hsproject import instance as this_instance
    monkeypatch.setattr(replication_http, "call_instance", call_instance)
    monkeypatch.setattr(this_instance, "writes", lambda stream: stream != "receipts")

    # What a federation worker does with an m.receipt EDU (client requests are relayed whole instead).
    from apps.rooms.stores import get_event
    position = get_event(ev).internal.stream_ordering
    assert isinstance(handlers.write_receipt(room_id, bob.user_id, "m.read", "", ev, position, 1234), int)
    assert calls == [("main", handlers.REPLICATION_WRITE_PATH)]
    assert Receipt.objects.get(user_id=bob.user_id).event_id == ev
    entry = sync(alice, since, timeout=5000)["rooms"]["join"][room_id]
    assert [e["content"] for e in entry["ephemeral"]["events"] if e["type"] == "m.receipt"] == \
        [{ev: {"m.read": {bob.user_id: {"ts": 1234}}}}]
    # Already as far: the writer answers with no position, nothing is awaited.
    assert handlers.write_receipt(room_id, bob.user_id, "m.read", "", ev, position, 1235) is None
    assert len(calls) == 2
