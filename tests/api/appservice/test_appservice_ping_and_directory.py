"""POST /_matrix/client/v1/appservice/{appserviceId}/ping against a real service, and
PUT /directory/list/appservice/{networkId}/{roomId}."""
from __future__ import annotations

import httpx
import pytest

from apps.appservice import client as as_client
from apps.appservice.models import AppServiceRoomListing
from tests.api.appservice.support import configure, registration
from tests.conftest import assert_error

pytestmark = pytest.mark.django_db(transaction=True)

PING = "/_matrix/client/v1/appservice/{}/ping"
AS_TOKEN = "as-token-for-tests"


@pytest.fixture
def service(settings, tmp_path, fake_as):
    configure(settings, tmp_path, registration(fake_as),
              registration(None, id="nourl", as_token="nourl-token", sender_localpart="_nourl_bot", users=[],
                           aliases=[], url=None))
    return fake_as


def test_ping_reaches_the_service(mx, service):
    resp = mx.post(PING.format("bridge"), {"transaction_id": "meow"}, token=AS_TOKEN)
    assert resp.status_code == 200, resp.json_body
    assert isinstance(resp.json_body["duration_ms"], int) and resp.json_body["duration_ms"] >= 0
    [seen] = service.requests
    assert (seen.method, seen.path, seen.body) == ("POST", "/_matrix/app/v1/ping", {"transaction_id": "meow"})
    assert seen.authorization == f"Bearer {service.hs_token}"


def test_ping_only_by_the_service_itself(mx, alice, service):
    assert_error(mx.post(PING.format("nourl"), {}, token=AS_TOKEN), 403, "M_FORBIDDEN")
    assert_error(mx.post(PING.format("bridge"), {}, token=alice.token), 403, "M_FORBIDDEN")
    assert_error(mx.post(PING.format("bridge"), {}, token=None), 401, "M_MISSING_TOKEN")
    assert service.requests == []


def test_ping_without_url(mx, service):
    assert_error(mx.post(PING.format("nourl"), {}, token="nourl-token"), 400, "M_URL_NOT_SET")


def test_ping_bad_status_carries_status_and_body(mx, service):
    service.hs_token = "the service expects another token"
    body = assert_error(mx.post(PING.format("bridge"), {"transaction_id": "t"}, token=AS_TOKEN), 502, "M_BAD_STATUS")
    assert body["status"] == 403 and "M_FORBIDDEN" in body["body"]


def test_ping_connection_failed(mx, service):
    service.stop()
    assert_error(mx.post(PING.format("bridge"), {}, token=AS_TOKEN), 502, "M_CONNECTION_FAILED")


def test_ping_timeout(mx, service, monkeypatch):
    monkeypatch.setattr(as_client, "PING_TIMEOUT", httpx.Timeout(0.3))
    service.delay = 2.0
    assert_error(mx.post(PING.format("bridge"), {}, token=AS_TOKEN), 504, "M_CONNECTION_TIMEOUT")


def test_appservice_room_directory(mx, alice, service):
    room = alice.post("/_matrix/client/v3/createRoom", {}).json_body["room_id"]
    path = f"/_matrix/client/v3/directory/list/appservice/irc/{room}"
    assert mx.put(path, {"visibility": "public"}, token=AS_TOKEN).status_code == 200
    assert list(AppServiceRoomListing.objects.values_list("appservice_id", "network_id", "room_id")) == [
        ("bridge", "irc", room)]
    assert mx.put(path, {"visibility": "public"}, token=AS_TOKEN).status_code == 200  # idempotent
    assert mx.put(path, {"visibility": "private"}, token=AS_TOKEN).status_code == 200
    assert not AppServiceRoomListing.objects.exists()
    assert_error(mx.put(path, {"visibility": "public"}, token=alice.token), 403, "M_FORBIDDEN")
    assert_error(mx.put(path, {"visibility": "secret"}, token=AS_TOKEN), 400, "M_INVALID_PARAM")
    assert_error(mx.put(path, {}, token=AS_TOKEN), 400, "M_MISSING_PARAM")
    assert_error(mx.put("/_matrix/client/v3/directory/list/appservice/irc/!nope:test.local",
                        {"visibility": "public"}, token=AS_TOKEN), 404, "M_NOT_FOUND")


def test_published_network_lists_in_public_rooms(mx, alice, service):
    listed = alice.post("/_matrix/client/v3/createRoom", {"preset": "public_chat"}).json_body["room_id"]
    public = alice.post("/_matrix/client/v3/createRoom", {"preset": "public_chat", "visibility": "public"}
                        ).json_body["room_id"]
    assert mx.put(f"/_matrix/client/v3/directory/list/appservice/irc/{listed}", {"visibility": "public"},
                  token=AS_TOKEN).status_code == 200

    def ids(body):
        resp = alice.post("/_matrix/client/v3/publicRooms", body)
        assert resp.status_code == 200, resp.json_body
        return {r["room_id"] for r in resp.json_body["chunk"]}

    assert ids({}) == {public}
    assert ids({"third_party_instance_id": "bridge|irc"}) == {listed}
    assert ids({"third_party_instance_id": "bridge|matrix"}) == set()
    assert ids({"third_party_instance_id": "nosuch|irc"}) == set()
    assert ids({"include_all_networks": True}) == {public, listed}
