"""The server's own account data writes (m.fully_read) from an instance that does not write the
`account_data` stream go to the writer's internal endpoint, which needs the replication secret."""
from __future__ import annotations

import dataclasses
import json

import pytest
from django.test import Client

from apps.account_data import handlers
from tests.api.rooms.helpers import create_room
from tests.api.sync.helpers import API, sync
from tests.conftest import assert_error

pytestmark = pytest.mark.django_db(transaction=True)

PATH = "/_hs/replication/account_data/write"


def _post(body, secret=None):
    extra = {"HTTP_AUTHORIZATION": f"Bearer {secret}"} if secret else {}
    resp = Client().generic("POST", PATH, data=json.dumps(body), content_type="application/json", **extra)
    resp.json_body = resp.json()
    return resp


def test_endpoint_needs_the_secret(alice, settings):
    body = {"user_id": alice.user_id, "room_id": None, "type": "m.fully_read", "content": {}}
    assert_error(_post(body), 403, "M_FORBIDDEN")
    settings.HS = settings.HS.replace(workers=dataclasses.replace(settings.HS.workers,
                                                                  worker_replication_secret="s3cret"))
    assert_error(_post(body, "wrong"), 403, "M_FORBIDDEN")
    assert_error(_post({"user_id": alice.user_id, "type": "x", "content": []}, "s3cret"), 400, "M_BAD_JSON")


def test_a_non_writer_forwards_to_the_writer(alice, monkeypatch, settings):
    settings.HS = settings.HS.replace(workers=dataclasses.replace(settings.HS.workers,
                                                                  worker_replication_secret="s3cret"))
    room_id = create_room(alice)
    since = sync(alice)["next_batch"]
    calls = []

    def call_instance(instance, path, payload, **kw):
        # The writer's side, as its replication listener runs it.
        from django.test import RequestFactory

        from apps.account_data.views_replication import WriteAccountDataView

        calls.append((instance, path))
        request = RequestFactory().post(path, data=json.dumps(payload), content_type="application/json",
                                        HTTP_AUTHORIZATION="Bearer s3cret")
        return WriteAccountDataView().handle(request)
    from apps.streams import replication_http
    from hsproject import instance as this_instance
    monkeypatch.setattr(replication_http, "call_instance", call_instance)
    monkeypatch.setattr(this_instance, "writes", lambda stream: stream != "account_data")

    position = handlers.write_server_account_data(alice.user_id, room_id, "m.fully_read", {"event_id": "$e"})
    assert isinstance(position, int) and calls == [("main", handlers.REPLICATION_WRITE_PATH)]
    assert alice.get(f"{API}/user/{alice.user_id}/rooms/{room_id}/account_data/m.fully_read").json_body == \
        {"event_id": "$e"}
    entry = sync(alice, since)["rooms"]["join"][room_id]
    assert entry["account_data"]["events"] == [{"type": "m.fully_read", "content": {"event_id": "$e"}}]
