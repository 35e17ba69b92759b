"""Third-party networks through a real application service (client-server API "Third-party Networks")."""
from __future__ import annotations

import pytest

from tests.api.appservice.support import configure, registration
from tests.conftest import assert_error

pytestmark = pytest.mark.django_db(transaction=True)

API = "/_matrix/client/v3/thirdparty"
IRC = {
    "user_fields": ["network", "nickname"],
    "location_fields": ["network", "channel"],
    "icon": "mxc://example.org/aBcDeFgH",
    "field_types": {"network": {"regexp": "([a-z0-9]+\\.)*[a-z0-9]+", "placeholder": "irc.example.org"}},
    "instances": [{"desc": "Freenode", "icon": "mxc://example.org/JkLmNoPq", "fields": {"network": "freenode"},
                   "network_id": "freenode"}],
}


@pytest.fixture
def service(settings, tmp_path, fake_as):
    configure(settings, tmp_path, registration(fake_as, protocols=["irc", "gitter"]))
    fake_as.thirdparty = {
        "/_matrix/app/v1/thirdparty/protocol/irc": IRC,
        "/_matrix/app/v1/thirdparty/location/irc": [
            {"alias": "#freenode_#matrix:test.local", "protocol": "irc", "fields": {"network": "freenode"}}],
        "/_matrix/app/v1/thirdparty/user/irc": [
            {"userid": "@_bridge_jim:test.local", "protocol": "irc", "fields": {"nickname": "jim"}}],
        "/_matrix/app/v1/thirdparty/location": [
            {"alias": "#freenode_#matrix:test.local", "protocol": "irc", "fields": {"channel": "#matrix"}}],
        "/_matrix/app/v1/thirdparty/user": [
            {"userid": "@_bridge_jim:test.local", "protocol": "irc", "fields": {"nickname": "jim"}}],
    }
    return fake_as


def test_protocols_carry_instance_ids(alice, service):
    resp = alice.get(f"{API}/protocols")
    assert resp.status_code == 200, resp.json_body
    # gitter is declared but the service has no metadata for it: left out.
    assert list(resp.json_body) == ["irc"]
    [instance] = resp.json_body["irc"]["instances"]
    assert instance["instance_id"] == "bridge|freenode" and instance["desc"] == "Freenode"
    assert alice.get(f"{API}/protocol/irc").json_body["user_fields"] == ["network", "nickname"]
    assert_error(alice.get(f"{API}/protocol/gitter"), 404, "M_NOT_FOUND")
    assert_error(alice.get(f"{API}/protocol/xmpp"), 404, "M_NOT_FOUND")
    assert all(r.authorization == f"Bearer {service.hs_token}" for r in service.requests)


def test_lookups_pass_fields_and_merge_answers(alice, service):
    resp = alice.get(f"{API}/location/irc?network=freenode&channel=%23matrix")
    assert resp.status_code == 200 and resp.json_body[0]["alias"] == "#freenode_#matrix:test.local"
    seen = [r for r in service.requests if r.path == "/_matrix/app/v1/thirdparty/location/irc"][-1]
    assert seen.query == {"network": "freenode", "channel": "#matrix"}
    assert alice.get(f"{API}/user/irc?nickname=jim").json_body[0]["userid"] == "@_bridge_jim:test.local"
    assert alice.get(f"{API}/location?alias=%23freenode_%23matrix:test.local").json_body[0]["protocol"] == "irc"
    assert alice.get(f"{API}/user?userid=@_bridge_jim:test.local").json_body[0]["fields"] == {"nickname": "jim"}
    seen = [r for r in service.requests if r.path == "/_matrix/app/v1/thirdparty/user"][-1]
    assert seen.query == {"userid": "@_bridge_jim:test.local"}


def test_nothing_found_and_bad_requests(alice, mx, service):
    service.thirdparty = {}
    assert_error(alice.get(f"{API}/location/irc?network=x"), 404, "M_NOT_FOUND")
    assert_error(alice.get(f"{API}/user/xmpp"), 404, "M_NOT_FOUND")
    assert_error(alice.get(f"{API}/location"), 400, "M_MISSING_PARAM")
    assert_error(alice.get(f"{API}/user"), 400, "M_MISSING_PARAM")
    assert_error(mx.get(f"{API}/protocols", token=None), 401, "M_MISSING_TOKEN")
    service.stop()
    assert alice.get(f"{API}/protocols").json_body == {}
