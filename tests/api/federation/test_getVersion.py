"""GET /_matrix/federation/v1/version"""
from apps.federation.views import IMPLEMENTATION_NAME, IMPLEMENTATION_VERSION
from tests.conftest import assert_error

PATH = "/_matrix/federation/v1/version"


def test_version(mx):
    resp = mx.get(PATH, token=None)
    assert resp.status_code == 200
    assert resp.json_body == {"server": {"name": "hsproject", "version": IMPLEMENTATION_VERSION}}
    assert IMPLEMENTATION_NAME == "hsproject"
    assert isinstance(IMPLEMENTATION_VERSION, str) and IMPLEMENTATION_VERSION


def test_needs_no_authentication_even_with_a_bad_header(mx):
    # No X-Matrix signature is needed for this endpoint; an unrelated Authorization header is ignored.
    resp = mx.get(PATH, token=None, headers={"Authorization": "X-Matrix origin=nowhere"})
    assert resp.status_code == 200


def test_wrong_method(mx):
    assert_error(mx.post(PATH, {}), 405, "M_UNRECOGNIZED")


def test_other_versions_unrecognized(mx):
    assert_error(mx.get("/_matrix/federation/v2/version", token=None), 404, "M_UNRECOGNIZED")
