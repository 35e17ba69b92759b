"""Device-list EDUs from other servers (server-server API, "Device Management"): this server keeps the
device keys of remote users it shares a room with (asked once over /user/keys/query), forgets them when
their server sends `m.device_list_update` or `m.signing_key_update`, and shows the user in
`device_lists.changed` of the local users sharing a room with them. Only the user's own server is
believed."""
from __future__ import annotations

import dataclasses
import json

import pytest
from django.test import Client, RequestFactory

from apps.e2ee import remote_devices
from apps.remote_device_lists.models import RemoteDeviceList
from tests.api.e2ee.helpers import API, query
from tests.api.rooms.helpers import create_room
from tests.api.sync.helpers import sync
from tests.conftest import assert_error

pytestmark = pytest.mark.django_db(transaction=True)

UPDATE = "m.device_list_update"
KEYS_QUERY = "/_matrix/federation/v1/user/keys/query"


def device(user_id: str, device_id: str, curve: str = "c1") -> dict:
    return {"user_id": user_id, "device_id": device_id, "algorithms": ["m.olm.v1.curve25519-aes-sha2"],
            "keys": {f"ed25519:{device_id}": f"ed-{device_id}", f"curve25519:{device_id}": curve},
            "signatures": {user_id: {f"ed25519:{device_id}": "sig"}}}


def update(user_id: str, device_id: str, stream_id: int = 2) -> dict:
    return {"user_id": user_id, "device_id": device_id, "stream_id": stream_id, "prev_id": [stream_id - 1],
            "deleted": False}


def changed(body) -> list:
    return body.get("device_lists", {}).get("changed", [])


def test_kept_until_an_update_arrives_then_refetched(alice, remote, shared_room):
    carol = remote.user("carol")
    remote.device_keys[carol] = {"PHONE": device(carol, "PHONE")}
    # Asked once (for every device, which is what is kept), then served from what is kept.
    assert query(alice, {carol: ["PHONE"]})["device_keys"] == {carol: {"PHONE": device(carol, "PHONE")}}
    assert query(alice, {carol: []})["device_keys"] == {carol: {"PHONE": device(carol, "PHONE")}}
    assert remote.key_queries() == [{"device_keys": {carol: []}}]

    since = sync(alice)["next_batch"]
    remote.device_keys[carol]["LAPTOP"] = device(carol, "LAPTOP")
    remote.send_edu(UPDATE, {**update(carol, "LAPTOP"), "keys": device(carol, "LAPTOP")})
    body = sync(alice, since)
    assert changed(body) == [carol]
    # The next query asks carol's server again and sees the new device.
    assert set(query(alice, {carol: []})["device_keys"][carol]) == {"PHONE", "LAPTOP"}
    assert len(remote.key_queries()) == 2
    # Nothing moved since: no change in the next sync, and the keys are kept again.
    assert changed(sync(alice, body["next_batch"])) == []
    query(alice, {carol: []})
    assert len(remote.key_queries()) == 2


def test_signing_key_update_forgets_the_cross_signing_keys(alice, remote, shared_room):
    carol = remote.user("carol")
    old = {"user_id": carol, "usage": ["master"], "keys": {"ed25519:M1": "M1"}}
    new = {"user_id": carol, "usage": ["master"], "keys": {"ed25519:M2": "M2"}}
    remote.master_keys[carol] = old
    assert query(alice, {carol: []})["master_keys"] == {carol: old}
    since = sync(alice)["next_batch"]
    remote.master_keys[carol] = new
    remote.send_edu("m.signing_key_update", {"user_id": carol, "master_key": new})
    assert changed(sync(alice, since)) == [carol]
    assert query(alice, {carol: []})["master_keys"] == {carol: new}
    assert len(remote.key_queries()) == 2


def test_only_the_users_own_server_is_believed(alice, remote, other_remote, shared_room):
    carol = remote.user("carol")
    remote.device_keys[carol] = {"PHONE": device(carol, "PHONE")}
    query(alice, {carol: []})
    since = sync(alice)["next_batch"]
    other_remote.send_edu(UPDATE, update(carol, "EVIL"))
    other_remote.send_edu("m.signing_key_update", {"user_id": carol})
    # About a local user, from anyone.
    remote.send_edu(UPDATE, update(alice.user_id, alice.device_id))
    # Malformed: ignored, and the transaction still succeeds.
    remote.send_edu(UPDATE, {"user_id": carol})
    remote.send_edu(UPDATE, {"user_id": 7, "device_id": "X"})
    assert changed(sync(alice, since)) == []
    query(alice, {carol: []})
    assert len(remote.key_queries()) == 1


def test_users_sharing_no_room_are_asked_every_time(alice, remote):
    dan = remote.user("dan")
    remote.device_keys[dan] = {"D": device(dan, "D")}
    for _ in range(2):
        assert query(alice, {dan: ["D"]})["device_keys"] == {dan: {"D": device(dan, "D")}}
    # Asked as the client asked: nothing is kept for them.
    assert remote.key_queries() == [{"device_keys": {dan: ["D"]}}] * 2
    assert not RemoteDeviceList.objects.filter(user_id=dan, keys_json__isnull=False).exists()
    # Their server's updates do not show in anyone's sync.
    since = sync(alice)["next_batch"]
    remote.send_edu(UPDATE, update(dan, "D"))
    create_room(alice)  # something for the sync to return
    assert changed(sync(alice, since)) == []


def test_a_membership_change_forgets_the_kept_devices(alice, remote, shared_room):
    """While carol shared no room with us, her server sent us no updates: what was kept may be stale."""
    carol = remote.user("carol")
    remote.device_keys[carol] = {"PHONE": device(carol, "PHONE")}
    query(alice, {carol: []})
    room2 = create_room(alice, preset="public_chat")
    remote.fake.join(room2, carol)
    remote.device_keys[carol]["TABLET"] = device(carol, "TABLET")
    assert set(query(alice, {carol: []})["device_keys"][carol]) == {"PHONE", "TABLET"}
    assert len(remote.key_queries()) == 2


def test_a_server_that_fails_is_a_failure_and_nothing_is_kept(alice, remote, shared_room):
    carol = remote.user("carol")
    remote.server.routes[KEYS_QUERY] = \
        lambda _rec: (500, {}, {"errcode": "M_UNKNOWN", "error": "down"})
    resp = alice.post(f"{API}/keys/query", {"device_keys": {carol: []}})
    assert resp.status_code == 200 and set(resp.json_body["failures"]) == {remote.name}
    assert resp.json_body["device_keys"] == {}
    assert not RemoteDeviceList.objects.filter(user_id=carol, keys_json__isnull=False).exists()


def test_an_answer_racing_an_update_is_not_kept(alice, remote, shared_room):
    """The EDU arrives while carol's server is answering the query: the (older) answer is shown to this
    client but not kept, so the next query asks again."""
    carol = remote.user("carol")
    remote.device_keys[carol] = {"PHONE": device(carol, "PHONE")}
    plain = remote.server.routes[KEYS_QUERY]

    def answer_then_update(rec):
        from django.db import connection

        result = plain(rec)
        try:
            remote_devices.on_device_list_update(remote.name, update(carol, "LAPTOP"))
        finally:
            connection.close()  # this runs on the loopback server's thread, with a connection of its own
        return result
    remote.server.routes[KEYS_QUERY] = answer_then_update
    assert set(query(alice, {carol: []})["device_keys"][carol]) == {"PHONE"}
    remote.server.routes[KEYS_QUERY] = plain
    remote.device_keys[carol]["LAPTOP"] = device(carol, "LAPTOP")
    assert set(query(alice, {carol: []})["device_keys"][carol]) == {"PHONE", "LAPTOP"}
    assert len(remote.key_queries()) == 2


# --- a federation worker that does not write device_lists ------------------------------------------------

PATH = "/_hs/replication/e2ee/remote_device_list_change"


def _with_secret(settings):
    settings.HS = settings.HS.replace(workers=dataclasses.replace(settings.HS.workers,
                                                                  worker_replication_secret="s3cret"))


def _post(body, secret=None):
    extra = {"HTTP_AUTHORIZATION": f"Bearer {secret}"} if secret else {}
    resp = Client().generic("POST", PATH, data=json.dumps(body), content_type="application/json", **extra)
    resp.json_body = resp.json()
    return resp


def test_a_non_writer_records_the_change_on_the_writer(alice, remote, shared_room, monkeypatch, settings):
    _with_secret(settings)
    carol = remote.user("carol")
    calls = []
    on_writer = [False]

    def call_instance(instance, path, payload, **kw):
        # The writer's side, as its replication listener runs it.
        from apps.e2ee.views_replication import RecordRemoteDeviceListChangeView

        calls.append((instance, path, payload))
        request = RequestFactory().post(path, data=json.dumps(payload), content_type="application/json",
                                        HTTP_AUTHORIZATION="Bearer s3cret")
        on_writer[0] = True
        try:
            return RecordRemoteDeviceListChangeView().handle(request)
        finally:
            on_writer[0] = False
    from apps.streams import replication_http
    from hsproject import instance as this_instance
    since = sync(alice)["next_batch"]
    monkeypatch.setattr(replication_http, "call_instance", call_instance)
    monkeypatch.setattr(this_instance, "writes", lambda stream: stream != "device_lists" or on_writer[0])
    remote.send_edu(UPDATE, update(carol, "LAPTOP"))
    monkeypatch.undo()
    assert calls == [("main", remote_devices.REPLICATION_REMOTE_CHANGE_PATH,
                      {"user_id": carol, "device_ids": ["LAPTOP"]})]
    assert changed(sync(alice, since)) == [carol]


def test_replication_endpoint_needs_the_secret_and_a_well_formed_body(alice, settings):
    body = {"user_id": "@carol:remote.test", "device_ids": ["D", None]}
    assert_error(_post(body), 403, "M_FORBIDDEN")
    _with_secret(settings)
    assert_error(_post(body, "wrong"), 403, "M_FORBIDDEN")
    assert_error(_post({**body, "device_ids": []}, "s3cret"), 400, "M_BAD_JSON")
    assert_error(_post({**body, "device_ids": [3]}, "s3cret"), 400, "M_BAD_JSON")
    assert_error(_post({"device_ids": ["D"]}, "s3cret"), 400, "M_BAD_JSON")
    assert_error(_post({**body, "user_id": alice.user_id}, "s3cret"), 400, "M_INVALID_PARAM")
    assert _post(body, "s3cret").status_code == 200
