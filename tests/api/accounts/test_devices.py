"""GET /devices, GET/PUT/DELETE /devices/{deviceId}, POST /delete_devices."""
import pytest

from apps.accounts.models import Device
from tests.api.accounts.test_password import uia_password
from tests.api.accounts.test_whoami import WHOAMI, logged_in
from tests.conftest import assert_error

DEVICES = "/_matrix/client/v3/devices"


def test_get_devices(db):
    a = logged_in(device_id="PHONE", initial_device_display_name="Phone")
    b = logged_in(device_id="LAPTOP")
    logged_in("dave")
    resp = a.get(DEVICES)
    assert resp.status_code == 200
    devices = {d["device_id"]: d for d in resp.json_body["devices"]}
    assert set(devices) == {"PHONE", "LAPTOP"}
    assert devices["PHONE"]["display_name"] == "Phone"
    assert "last_seen_ts" in devices["PHONE"] and devices["PHONE"]["last_seen_ip"] == "127.0.0.1"
    assert b.get(f"{DEVICES}/PHONE").json_body["display_name"] == "Phone"


@pytest.mark.parametrize("prefix", ["r0", "v3", "unstable"])
def test_get_devices_prefixes(db, prefix):
    assert logged_in().get(f"/_matrix/client/{prefix}/devices").status_code == 200


def test_get_device(db):
    a = logged_in(device_id="PHONE", initial_device_display_name="Phone")
    resp = a.get(f"{DEVICES}/PHONE")
    assert resp.status_code == 200
    assert resp.json_body["device_id"] == "PHONE" and resp.json_body["display_name"] == "Phone"


def test_get_device_unknown_or_other_users(db):
    a = logged_in()
    d = logged_in("dave")
    assert_error(a.get(f"{DEVICES}/NOPE"), 404, "M_NOT_FOUND")
    assert_error(a.get(f"{DEVICES}/{d.device_id}"), 404, "M_NOT_FOUND")


def test_update_device(db):
    a = logged_in(device_id="PHONE")
    resp = a.put(f"{DEVICES}/PHONE", {"display_name": "My phone"})
    assert resp.status_code == 200 and resp.json_body == {}
    assert a.get(f"{DEVICES}/PHONE").json_body["display_name"] == "My phone"
    assert a.put(f"{DEVICES}/PHONE", {}).status_code == 200  # no display_name: unchanged
    assert a.get(f"{DEVICES}/PHONE").json_body["display_name"] == "My phone"


def test_update_device_creates_nothing(db):
    a = logged_in()
    assert_error(a.put(f"{DEVICES}/NEWDEV", {"display_name": "x"}), 404, "M_NOT_FOUND")
    assert not Device.objects.filter(device_id="NEWDEV").exists()


@pytest.mark.parametrize("body,errcode", [({"display_name": 5}, "M_BAD_JSON"),
                                          ({"display_name": "x" * 101}, "M_TOO_LARGE")])
def test_update_device_bad_body(db, body, errcode):
    a = logged_in(device_id="PHONE")
    assert_error(a.put(f"{DEVICES}/PHONE", body), 400, errcode)


def test_update_device_not_json(db):
    a = logged_in(device_id="PHONE")
    assert_error(a.request("PUT", f"{DEVICES}/PHONE", raw=b"x"), 400, "M_NOT_JSON")


def test_delete_device_with_uia(db):
    a = logged_in(device_id="PHONE")
    b = logged_in(device_id="LAPTOP")
    first = a.delete(f"{DEVICES}/LAPTOP")
    assert first.status_code == 401 and first.json_body["flows"] == [{"stages": ["m.login.password"]}]
    resp = a.delete(f"{DEVICES}/LAPTOP", {"auth": uia_password(first.json_body["session"])})
    assert resp.status_code == 200, resp.json_body
    assert_error(b.get(WHOAMI), 401, "M_UNKNOWN_TOKEN")
    assert a.get(WHOAMI).status_code == 200
    assert_error(a.get(f"{DEVICES}/LAPTOP"), 404, "M_NOT_FOUND")


def test_delete_device_wrong_password(db):
    a = logged_in(device_id="PHONE")
    resp = a.delete(f"{DEVICES}/PHONE", {"auth": uia_password(password="wrong")})
    assert resp.status_code == 401 and resp.json_body["errcode"] == "M_FORBIDDEN"
    assert a.get(WHOAMI).status_code == 200


def test_delete_device_unknown(db):
    a = logged_in()
    assert_error(a.delete(f"{DEVICES}/NOPE", {"auth": uia_password()}), 404, "M_NOT_FOUND")


def test_uia_session_cannot_be_reused_for_another_device(db):
    a = logged_in(device_id="PHONE")
    logged_in(device_id="LAPTOP")
    first = a.delete(f"{DEVICES}/LAPTOP").json_body
    assert_error(a.delete(f"{DEVICES}/PHONE", {"auth": uia_password(first["session"])}), 403, "M_FORBIDDEN")


def test_delete_devices(db):
    a = logged_in(device_id="PHONE")
    b = logged_in(device_id="LAPTOP")
    c = logged_in(device_id="TABLET")
    resp = a.post("/_matrix/client/v3/delete_devices", {"devices": ["LAPTOP", "TABLET", "UNKNOWN"],
                                                        "auth": uia_password()})
    assert resp.status_code == 200, resp.json_body
    assert_error(b.get(WHOAMI), 401, "M_UNKNOWN_TOKEN")
    assert_error(c.get(WHOAMI), 401, "M_UNKNOWN_TOKEN")
    assert [d["device_id"] for d in a.get(DEVICES).json_body["devices"]] == ["PHONE"]


def test_delete_devices_does_not_touch_other_users(db):
    a = logged_in()
    d = logged_in("dave")
    assert a.post("/_matrix/client/v3/delete_devices", {"devices": [d.device_id], "auth": uia_password()}).status_code == 200
    assert d.get(WHOAMI).status_code == 200


@pytest.mark.parametrize("body,errcode", [({}, "M_MISSING_PARAM"), ({"devices": "PHONE"}, "M_BAD_JSON"),
                                          ({"devices": [1]}, "M_BAD_JSON")])
def test_delete_devices_bad_body(db, body, errcode):
    a = logged_in()
    assert_error(a.post("/_matrix/client/v3/delete_devices", body), 400, errcode)


@pytest.mark.parametrize("method,path", [("GET", DEVICES), ("GET", f"{DEVICES}/X"), ("PUT", f"{DEVICES}/X"),
                                         ("DELETE", f"{DEVICES}/X"), ("POST", "/_matrix/client/v3/delete_devices")])
def test_devices_auth_errors(mx, method, path):
    assert_error(mx.request(method, path, {}, token=None), 401, "M_MISSING_TOKEN")
    assert_error(mx.request(method, path, {}, token="syt_nope"), 401, "M_UNKNOWN_TOKEN")


def test_devices_wrong_method(db):
    a = logged_in()
    assert_error(a.post(DEVICES, {}), 405, "M_UNRECOGNIZED")
    assert_error(a.post(f"{DEVICES}/{a.device_id}", {}), 405, "M_UNRECOGNIZED")
    assert_error(a.get("/_matrix/client/v3/delete_devices"), 405, "M_UNRECOGNIZED")
