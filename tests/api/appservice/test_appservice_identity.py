"""The as_token on the client-server API: identity assertion (user_id, device_id), registration and login
of namespace users, M_EXCLUSIVE (spec: application-service API, "Client-Server API Extensions")."""
from __future__ import annotations

import pytest

from tests.api.appservice.support import configure, registration
from tests.conftest import assert_error

API = "/_matrix/client/v3"
AS_TOKEN = "as-token-for-tests"


@pytest.fixture
def service(settings, tmp_path):
    configure(settings, tmp_path, registration(None, url=None),
              registration(None, id="other", as_token="other-as-token", sender_localpart="_other_bot",
                           users=[{"exclusive": True, "regex": "@_other_.*"},
                                  {"exclusive": False, "regex": "@shared_.*"}],
                           aliases=[], url=None))


def as_register(mx, username, token=AS_TOKEN, **extra):
    return mx.post(f"{API}/register", {"type": "m.login.application_service", "username": username, **extra},
                   token=token)


def whoami(mx, token=AS_TOKEN, query=""):
    return mx.get(f"{API}/account/whoami{query}", token=token)


def test_as_token_acts_as_the_sender(mx, service):
    resp = whoami(mx)
    assert resp.status_code == 200, resp.json_body
    assert resp.json_body["user_id"] == "@_bridge_bot:test.local"
    assert "device_id" not in resp.json_body


def test_register_a_namespace_user_and_masquerade_as_it(mx, service):
    resp = as_register(mx, "_bridge_alice")
    assert resp.status_code == 200, resp.json_body
    assert resp.json_body["user_id"] == "@_bridge_alice:test.local"
    # The session the registration opened works like any other.
    own = whoami(mx, token=resp.json_body["access_token"])
    assert own.json_body["user_id"] == "@_bridge_alice:test.local"
    device_id = resp.json_body["device_id"]

    masq = whoami(mx, query="?user_id=@_bridge_alice:test.local")
    assert masq.status_code == 200 and masq.json_body["user_id"] == "@_bridge_alice:test.local"
    assert "device_id" not in masq.json_body
    with_device = whoami(mx, query=f"?user_id=@_bridge_alice:test.local&device_id={device_id}")
    assert with_device.json_body == {"user_id": "@_bridge_alice:test.local", "device_id": device_id,
                                     "is_guest": False}
    assert_error(whoami(mx, query="?user_id=@_bridge_alice:test.local&device_id=NOPE"), 400, "M_UNKNOWN_DEVICE")


def test_inhibit_login_gives_no_session(mx, service):
    resp = as_register(mx, "_bridge_quiet", inhibit_login=True)
    assert resp.status_code == 200
    assert resp.json_body == {"user_id": "@_bridge_quiet:test.local", "home_server": "test.local"}


def test_masquerading_outside_the_namespace_or_as_unknown_user_is_forbidden(mx, alice, service):
    assert_error(whoami(mx, query=f"?user_id={alice.user_id}"), 403, "M_FORBIDDEN")
    assert_error(whoami(mx, query="?user_id=@_bridge_nobody:test.local"), 403, "M_FORBIDDEN")
    assert_error(whoami(mx, query="?user_id=@_bridge_x:elsewhere.example"), 403, "M_FORBIDDEN")
    assert_error(whoami(mx, query="?user_id=notanid"), 400, "M_INVALID_PARAM")


def test_registration_outside_the_namespace_is_exclusive(mx, service):
    assert_error(as_register(mx, "plainname"), 400, "M_EXCLUSIVE")
    # In another service's exclusive namespace.
    assert_error(as_register(mx, "_other_carol"), 400, "M_EXCLUSIVE")
    assert as_register(mx, "_other_carol", token="other-as-token").status_code == 200
    assert_error(as_register(mx, "_other_carol", token="other-as-token"), 400, "M_USER_IN_USE")
    assert_error(as_register(mx, "_bridge_!bad"), 400, "M_INVALID_USERNAME")
    assert_error(mx.post(f"{API}/register", {"username": "_bridge_x"}, token=AS_TOKEN), 400, "M_INVALID_PARAM")


def test_ordinary_registration_in_an_exclusive_namespace(mx, settings, tmp_path):
    configure(settings, tmp_path, registration(None, url=None, users=[{"exclusive": True, "regex": "@irc_.*"},
                                                                      {"exclusive": False, "regex": "@log_.*"}]))
    body = {"password": "correct horse battery", "auth": {"type": "m.login.dummy"}}
    assert_error(mx.post(f"{API}/register", {**body, "username": "irc_dave"}, token=None), 400, "M_EXCLUSIVE")
    assert_error(mx.get(f"{API}/register/available?username=irc_dave", token=None), 400, "M_EXCLUSIVE")
    # A non-exclusive namespace leaves the name to whoever comes first.
    assert mx.post(f"{API}/register", {**body, "username": "log_erin"}, token=None).status_code == 200


def test_application_service_type_needs_a_valid_as_token(mx, service):
    assert_error(as_register(mx, "_bridge_z", token=None), 401, "M_MISSING_TOKEN")
    assert_error(as_register(mx, "_bridge_z", token="not-a-token"), 401, "M_UNKNOWN_TOKEN")


def test_login_as_a_namespace_user(mx, alice, service):
    flows = mx.get(f"{API}/login", token=None).json_body["flows"]
    assert {"type": "m.login.application_service"} in flows
    assert as_register(mx, "_bridge_frank", inhibit_login=True).status_code == 200
    body = {"type": "m.login.application_service", "identifier": {"type": "m.id.user", "user": "_bridge_frank"}}
    resp = mx.post(f"{API}/login", body, token=AS_TOKEN)
    assert resp.status_code == 200, resp.json_body
    assert whoami(mx, token=resp.json_body["access_token"]).json_body["user_id"] == "@_bridge_frank:test.local"
    outside = {**body, "identifier": {"type": "m.id.user", "user": alice.user_id}}
    assert_error(mx.post(f"{API}/login", outside, token=AS_TOKEN), 403, "M_EXCLUSIVE")
    assert_error(mx.post(f"{API}/login", body, token=None), 401, "M_MISSING_TOKEN")
    # An ordinary access token is not an as_token.
    assert_error(mx.post(f"{API}/login", body, token=alice.token), 403, "M_FORBIDDEN")


def test_masqueraded_user_acts_in_rooms(mx, alice, service):
    assert as_register(mx, "_bridge_gina", inhibit_login=True).status_code == 200
    room = alice.post(f"{API}/createRoom", {"preset": "public_chat"}).json_body["room_id"]
    q = "?user_id=@_bridge_gina:test.local"
    assert mx.post(f"{API}/join/{room}{q}", {}, token=AS_TOKEN).status_code == 200
    sent = mx.put(f"{API}/rooms/{room}/send/m.room.message/t1{q}", {"msgtype": "m.text", "body": "hi"},
                  token=AS_TOKEN)
    assert sent.status_code == 200, sent.json_body
    event = alice.get(f"{API}/rooms/{room}/event/{sent.json_body['event_id']}").json_body
    assert event["sender"] == "@_bridge_gina:test.local"


@pytest.mark.parametrize("rate_limited", [True, False])
def test_rate_limits_follow_the_registration(mx, alice, settings, tmp_path, rate_limited):
    from hsproject.config.sections import RateLimit

    configure(settings, tmp_path, registration(None, url=None, rate_limited=rate_limited))
    settings.HS = settings.HS.replace(rc_message=RateLimit(0.001, 2))
    assert as_register(mx, "_bridge_hal", inhibit_login=True).status_code == 200
    room = alice.post(f"{API}/createRoom", {"preset": "public_chat"}).json_body["room_id"]
    q = "?user_id=@_bridge_hal:test.local"
    assert mx.post(f"{API}/join/{room}{q}", {}, token=AS_TOKEN).status_code == 200
    statuses = [mx.put(f"{API}/rooms/{room}/send/m.room.message/r{i}{q}", {"msgtype": "m.text", "body": "x"},
                       token=AS_TOKEN).status_code for i in range(4)]
    assert statuses == ([200, 200, 429, 429] if rate_limited else [200, 200, 200, 200])


def test_timestamp_massaging(mx, alice, service):
    assert as_register(mx, "_bridge_ts", inhibit_login=True).status_code == 200
    room = alice.post(f"{API}/createRoom", {"preset": "public_chat", "power_level_content_override": {
        "users": {"@_bridge_ts:test.local": 50}}}).json_body["room_id"]
    q = "?user_id=@_bridge_ts:test.local"
    assert mx.post(f"{API}/join/{room}{q}&ts=1000", {}, token=AS_TOKEN).status_code == 200
    sent = mx.put(f"{API}/rooms/{room}/send/m.room.message/ts1{q}&ts=1234567890123", {"msgtype": "m.text",
                                                                                      "body": "then"}, token=AS_TOKEN)
    assert sent.status_code == 200, sent.json_body
    state = mx.put(f"{API}/rooms/{room}/state/org.example.bridge/k{q}&ts=1234567890999", {"x": 1}, token=AS_TOKEN)
    assert state.status_code == 200, state.json_body

    def ts_of(event_id):
        return alice.get(f"{API}/rooms/{room}/event/{event_id}").json_body["origin_server_ts"]

    assert ts_of(sent.json_body["event_id"]) == 1234567890123
    assert ts_of(state.json_body["event_id"]) == 1234567890999
    # Only on send and state: the join above kept the server's time.
    members = alice.get(f"{API}/rooms/{room}/state/m.room.member/@_bridge_ts:test.local?format=event").json_body
    assert members["origin_server_ts"] > 1_600_000_000_000
    assert_error(mx.put(f"{API}/rooms/{room}/send/m.room.message/ts2{q}&ts=yesterday", {"body": "x"},
                        token=AS_TOKEN), 400, "M_INVALID_PARAM")
    # An ordinary user's ts is not honoured.
    plain = alice.put(f"{API}/rooms/{room}/send/m.room.message/ts3?ts=5", {"msgtype": "m.text", "body": "now"})
    assert ts_of(plain.json_body["event_id"]) > 1_600_000_000_000


def test_device_management_by_the_service(mx, alice, service):
    """Spec v1.17 "Device management": PUT creates a device, deletions need no user-interactive auth."""
    assert as_register(mx, "_bridge_dev", inhibit_login=True).status_code == 200
    q = "?user_id=@_bridge_dev:test.local"
    created = mx.put(f"{API}/devices/BRIDGEDEV{q}", {"display_name": "Bridge device"}, token=AS_TOKEN)
    assert created.status_code == 201, created.json_body
    assert mx.put(f"{API}/devices/BRIDGEDEV{q}", {"display_name": "Renamed"}, token=AS_TOKEN).status_code == 200
    assert mx.get(f"{API}/devices/BRIDGEDEV{q}", token=AS_TOKEN).json_body["display_name"] == "Renamed"
    assert whoami(mx, query=f"{q}&device_id=BRIDGEDEV").json_body["device_id"] == "BRIDGEDEV"
    assert mx.delete(f"{API}/devices/BRIDGEDEV{q}", token=AS_TOKEN).status_code == 200
    assert_error(whoami(mx, query=f"{q}&device_id=BRIDGEDEV"), 400, "M_UNKNOWN_DEVICE")
    for name in ("D1", "D2"):
        assert mx.put(f"{API}/devices/{name}{q}", {}, token=AS_TOKEN).status_code == 201
    assert mx.post(f"{API}/delete_devices{q}", {"devices": ["D1", "D2"]}, token=AS_TOKEN).status_code == 200
    assert mx.get(f"{API}/devices{q}", token=AS_TOKEN).json_body["devices"] == []
    # Ordinary users: no device is created this way, and deleting still asks who they are.
    assert_error(alice.put(f"{API}/devices/NEWONE", {}), 404, "M_NOT_FOUND")
    assert alice.delete(f"{API}/devices/{alice.device_id}").status_code == 401
