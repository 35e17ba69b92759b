"""GET /.well-known/matrix/client (client-server operationId getWellknown)"""
from tests.conftest import assert_error

PATH = "/.well-known/matrix/client"


def test_homeserver_base_url(mx, settings):
    resp = mx.get(PATH, token=None)
    assert resp.status_code == 200
    assert resp["Content-Type"].startswith("application/json")
    assert resp.json_body == {"m.homeserver": {"base_url": settings.HS.public_baseurl}}


def test_follows_public_baseurl(mx, settings):
    settings.HS = settings.HS.replace(public_baseurl="https://matrix.example.org/")
    assert mx.get(PATH, token=None).json_body["m.homeserver"]["base_url"] == "https://matrix.example.org/"


def test_cors_for_web_clients(mx):
    # Spec: web clients fetch this cross-origin.
    resp = mx.get(PATH, token=None)
    assert resp["Access-Control-Allow-Origin"] == "*"


def test_ignores_a_bad_token(mx):
    assert mx.get(PATH, token="garbage").status_code == 200


def test_wrong_method(mx):
    assert_error(mx.post(PATH, {}, token=None), 405, "M_UNRECOGNIZED")


def test_unknown_well_known_is_unrecognized(mx):
    assert_error(mx.get("/.well-known/matrix/nothing", token=None), 404, "M_UNRECOGNIZED")
    assert_error(mx.get("/.well-known/matrix/client/extra", token=None), 404, "M_UNRECOGNIZED")
