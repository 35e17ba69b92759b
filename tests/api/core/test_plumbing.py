"""Matrix plumbing through HTTP: unknown paths, wrong methods, CORS, JSON errors, body size limit."""
from tests.conftest import assert_error


def test_unknown_matrix_path_is_unrecognized(mx):
    assert_error(mx.get("/_matrix/client/v3/no_such_thing"), 404, "M_UNRECOGNIZED")
    assert_error(mx.get("/_matrix/federation/v1/nope"), 404, "M_UNRECOGNIZED")
    assert_error(mx.get("/_synapse/admin/v1/nope"), 404, "M_UNRECOGNIZED")


def test_wrong_method_is_405_unrecognized(mx):
    assert_error(mx.post("/_matrix/client/versions", {}), 405, "M_UNRECOGNIZED")


def test_cors_headers_on_matrix_paths(mx):
    resp = mx.get("/_matrix/client/versions")
    assert resp["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in resp["Access-Control-Allow-Headers"]
    for m in ("GET", "POST", "PUT", "DELETE", "OPTIONS"):
        assert m in resp["Access-Control-Allow-Methods"]


def test_options_preflight_answers_without_auth(mx):
    resp = mx.request("OPTIONS", "/_matrix/client/v3/account/whoami", token=None)
    assert resp.status_code == 200
    assert resp["Access-Control-Allow-Origin"] == "*"


def test_request_id_header(mx):
    a = mx.get("/_matrix/client/versions")["X-Request-Id"]
    b = mx.get("/_matrix/client/versions")["X-Request-Id"]
    assert a and b and a != b


def test_body_size_limit(mx, settings):
    big = b'{"a":"' + b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10) + b'"}'
    assert_error(mx.request("POST", "/_matrix/client/v3/login", raw=big), 413, "M_TOO_LARGE")
