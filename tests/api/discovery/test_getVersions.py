"""GET /_matrix/client/versions"""
import re

from tests.conftest import assert_error


def test_versions(mx):
    resp = mx.get("/_matrix/client/versions", token=None)
    assert resp.status_code == 200
    body = resp.json_body
    assert body["unstable_features"] == {}
    assert body["versions"] and all(re.fullmatch(r"v1\.\d+", v) for v in body["versions"])


def test_ignores_a_bad_token(mx):
    # Spec: authentication is optional here; an invalid token must not stop a client discovering us.
    assert mx.get("/_matrix/client/versions", token="garbage").status_code == 200


def test_wrong_method(mx):
    assert_error(mx.put("/_matrix/client/versions", {}), 405, "M_UNRECOGNIZED")
