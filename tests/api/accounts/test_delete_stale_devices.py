"""`background.delete_stale_devices` (`delete_stale_devices_after`): devices not seen for that long (never
seen: created that long ago) are deleted as a client's device deletion deletes them (tokens, to-device
inbox, pushers, end-to-end keys, a device-list change for users sharing a room); recent devices and the
devices of application-service users are kept; nothing happens while the option is unset."""
from __future__ import annotations

import dataclasses
import datetime
import json
import time

import pytest
from django.test import Client

from apps.accounts.models import Device
from tests.api.e2ee.helpers import login, setup_device
from tests.api.rooms.helpers import create_room
from tests.api.sync.helpers import sync
from tests.conftest import assert_error
from workers.background import delete_stale_devices

pytestmark = pytest.mark.django_db(transaction=True)

API = "/_matrix/client/v3"
DAY_MS = 24 * 3600 * 1000
# Queries of one batch: selecting it and its users, the transaction; then each deleted device's clean-up.
BATCH_QUERIES = 10
PER_DEVICE_QUERIES = 18
PUSHER = {"kind": "http", "app_id": "com.example.app", "pushkey": "PHONEKEY", "app_display_name": "App",
          "device_display_name": "Phone", "lang": "en",
          "data": {"url": "https://push.example.org/_matrix/push/v1/notify"}}


@pytest.fixture
def stale_after_a_day(settings):
    settings.HS = settings.HS.replace(delete_stale_devices_after_ms=DAY_MS)


def age(device_id: str, *, days: float, never_seen: bool = False) -> None:
    """Let `days` pass for one device: its last-seen time (or, never seen, its creation) moves back."""
    then_ms = int(time.time() * 1000 - days * DAY_MS)
    if never_seen:
        created = datetime.datetime.fromtimestamp(then_ms / 1000, tz=datetime.timezone.utc)
        Device.objects.filter(device_id=device_id).update(last_seen_ts=None, created_at=created)
    else:
        Device.objects.filter(device_id=device_id).update(last_seen_ts=then_ms)


def device_ids(client) -> list[str]:
    resp = client.get(f"{API}/devices")
    assert resp.status_code == 200, resp.json_body
    return sorted(d["device_id"] for d in resp.json_body["devices"])


def test_off_by_default(alice, client_factory):
    phone = login(client_factory, alice)
    age(phone.device_id, days=3650)
    assert delete_stale_devices.delay().get() == {"skipped": "delete_stale_devices_after is not set"}
    assert phone.get(f"{API}/account/whoami").status_code == 200
    assert device_ids(alice) == sorted([alice.device_id, phone.device_id])


def test_stale_device_is_deleted_as_a_client_deletion_would(alice, bob, client_factory, stale_after_a_day):
    room_id = create_room(alice, preset="public_chat")
    assert bob.post(f"{API}/rooms/{room_id}/join").status_code == 200
    phone = login(client_factory, alice)
    setup_device(phone, n_otks=2)
    assert phone.post(f"{API}/pushers/set", PUSHER).status_code == 200
    # A to-device message waits in the phone's inbox.
    assert bob.put(f"{API}/sendToDevice/m.test/t1",
                   {"messages": {alice.user_id: {phone.device_id: {"hello": 1}}}}).status_code == 200
    keys = bob.post(f"{API}/keys/query", {"device_keys": {alice.user_id: []}}).json_body
    assert phone.device_id in keys["device_keys"][alice.user_id]
    bob_since = sync(bob)["next_batch"]

    age(phone.device_id, days=2)
    age(alice.device_id, days=0.5)  # seen half a day ago: kept
    result = delete_stale_devices.delay().get()
    assert result["deleted"] == 1

    # The phone's token is gone with it; alice's other device is untouched.
    assert_error(phone.get(f"{API}/account/whoami"), 401, "M_UNKNOWN_TOKEN")
    assert device_ids(alice) == [alice.device_id]
    assert alice.get(f"{API}/pushers").json_body == {"pushers": []}
    # Bob's client learns that alice's devices changed, and no longer sees the phone's keys.
    assert alice.user_id in sync(bob, bob_since)["device_lists"]["changed"]
    keys = bob.post(f"{API}/keys/query", {"device_keys": {alice.user_id: []}}).json_body
    assert phone.device_id not in keys["device_keys"].get(alice.user_id, {})
    # A later login reusing the device ID starts with an empty inbox.
    again = login(client_factory, alice, device_id=phone.device_id)
    assert sync(again).get("to_device", {}).get("events", []) == []
    # Running again finds nothing more to do.
    assert delete_stale_devices.delay().get()["deleted"] == 0


def test_never_seen_device_counts_from_its_creation(alice, client_factory, stale_after_a_day):
    old = login(client_factory, alice)
    new = login(client_factory, alice)
    age(old.device_id, days=2, never_seen=True)
    age(new.device_id, days=0.1, never_seen=True)
    assert delete_stale_devices.delay().get()["deleted"] == 1
    remaining = set(Device.objects.values_list("device_id", flat=True))
    assert old.device_id not in remaining and {new.device_id, alice.device_id} <= remaining


def test_devices_of_application_service_users_are_kept(mx, alice, settings, tmp_path, stale_after_a_day):
    from tests.api.appservice.support import configure, registration

    configure(settings, tmp_path, registration(None, url=None))
    resp = mx.post(f"{API}/register", {"type": "m.login.application_service", "username": "_bridge_carol"},
                   token="as-token-for-tests")
    assert resp.status_code == 200, resp.json_body
    bridged = resp.json_body["device_id"]
    age(bridged, days=30)
    age(alice.device_id, days=30)
    assert delete_stale_devices.delay().get()["deleted"] == 1
    assert list(Device.objects.values_list("device_id", flat=True)) == [bridged]


def test_batches_are_bounded(alice, client_factory, stale_after_a_day, django_assert_max_num_queries):
    """Many stale devices are deleted batch by batch. A batch costs a few queries of its own plus the
    clean-up of each deleted device (tokens, pushers, inbox, keys, device-list row: the Device signals),
    never anything for the devices kept."""
    from apps.accounts import housekeeping

    phones = [login(client_factory, alice) for _ in range(5)]
    keep = [login(client_factory, alice) for _ in range(5)]
    for p in phones:
        age(p.device_id, days=3)
    cutoff = int(time.time() * 1000) - DAY_MS
    with django_assert_max_num_queries(BATCH_QUERIES + PER_DEVICE_QUERIES * 3):
        assert housekeeping.delete_stale_devices_batch(cutoff, limit=3) == 3
    assert housekeeping.delete_stale_devices(batch_size=1)["deleted"] == 2
    remaining = set(Device.objects.values_list("device_id", flat=True))
    assert remaining == {alice.device_id} | {k.device_id for k in keep}


REPLICATION_PATH = "/_hs/replication/accounts/delete_stale_devices"


def _with_secret(settings):
    settings.HS = settings.HS.replace(workers=dataclasses.replace(settings.HS.workers,
                                                                  worker_replication_secret="s3cret"))


def _post_replication(body, secret=None):
    extra = {"HTTP_AUTHORIZATION": f"Bearer {secret}"} if secret else {}
    return Client().generic("POST", REPLICATION_PATH, data=json.dumps(body), content_type="application/json",
                            **extra)


def test_replication_endpoint_needs_the_secret_and_a_well_formed_body(alice, settings):
    body = {"cutoff_ms": 1, "limit": 10}
    resp = _post_replication(body)
    assert resp.status_code == 403 and resp.json()["errcode"] == "M_FORBIDDEN"
    _with_secret(settings)
    assert _post_replication(body, "wrong").json()["errcode"] == "M_FORBIDDEN"
    for bad in ({"cutoff_ms": "soon", "limit": 10}, {"cutoff_ms": 1}, {"cutoff_ms": 1, "limit": 0},
                {"cutoff_ms": 1, "limit": True}, {"cutoff_ms": 1, "limit": 100000}):
        resp = _post_replication(bad, "s3cret")
        assert resp.status_code == 400 and resp.json()["errcode"] == "M_BAD_JSON", bad
    resp = _post_replication(body, "s3cret")
    assert resp.status_code == 200 and resp.json() == {"deleted": 0}


def test_an_instance_not_writing_device_lists_has_the_writer_delete(alice, client_factory, monkeypatch, settings,
                                                                   stale_after_a_day):
    """A Celery `background` worker does not write `device_lists`: each batch is deleted by main, reached
    over its replication endpoint (here through the test client, as main's listener would serve it)."""
    _with_secret(settings)
    phones = [login(client_factory, alice) for _ in range(3)]
    for p in phones:
        age(p.device_id, days=2)
    on_writer = {"now": False}
    calls = []

    def call_instance(instance, path, payload, **kw):
        calls.append((instance, path))
        on_writer["now"] = True
        try:
            resp = _post_replication(payload, "s3cret")
        finally:
            on_writer["now"] = False
        assert resp.status_code == 200, resp.content
        return resp.json()

    from apps.streams import replication_http
    from hsproject import instance as this_instance
    monkeypatch.setattr(replication_http, "call_instance", call_instance)
    monkeypatch.setattr(this_instance, "writes", lambda stream: stream != "device_lists" or on_writer["now"])

    from apps.accounts import housekeeping
    assert housekeeping.delete_stale_devices(batch_size=2) == {"deleted": 3, "batches": 2}
    assert calls == [("main", "/accounts/delete_stale_devices")] * 2
    assert device_ids(alice) == [alice.device_id]
    for p in phones:
        assert_error(p.get(f"{API}/account/whoami"), 401, "M_UNKNOWN_TOKEN")
