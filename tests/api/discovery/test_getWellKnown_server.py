"""GET /.well-known/matrix/server (server-server operationId getWellKnown)"""
import pytest

from apps.discovery.views import split_server_name
from tests.conftest import assert_error

PATH = "/.well-known/matrix/server"


def test_not_served_by_default(mx, settings):
    assert settings.HS.serve_server_wellknown is False
    assert_error(mx.get(PATH, token=None), 404, "M_NOT_FOUND")


@pytest.mark.parametrize("server_name, delegated", [
    ("test.local", "test.local:443"),
    ("example.org:8449", "example.org:8449"),
    ("1.2.3.4", "1.2.3.4:443"),
    ("[2001:db8::1]", "[2001:db8::1]:443"),
    ("[2001:db8::1]:8448", "[2001:db8::1]:8448"),
])
def test_delegates_to_port_443_of_server_name(mx, settings, server_name, delegated):
    # As Synapse: the request reached us at https://<server_name>/, so federation can use port 443.
    settings.HS = settings.HS.replace(serve_server_wellknown=True, server_name=server_name)
    resp = mx.get(PATH, token=None)
    assert resp.status_code == 200
    assert resp["Content-Type"].startswith("application/json")
    assert resp.json_body == {"m.server": delegated}


def test_split_server_name():
    assert split_server_name("a.b") == ("a.b", None)
    assert split_server_name("a.b:1") == ("a.b", 1)
    assert split_server_name("[::1]:8") == ("[::1]", 8)


def test_wrong_method(mx, settings):
    settings.HS = settings.HS.replace(serve_server_wellknown=True)
    assert_error(mx.put(PATH, {}, token=None), 405, "M_UNRECOGNIZED")
