"""GET /health (not a spec endpoint: for load balancers)"""
from tests.conftest import assert_error


def test_health(mx):
    resp = mx.get("/health", token=None)
    assert resp.status_code == 200
    assert resp.content == b"OK"
    assert resp["Content-Type"].startswith("text/plain")


def test_head(mx):
    assert mx.request("HEAD", "/health", token=None).status_code == 200


def test_no_auth_needed_even_with_a_bad_token(mx):
    assert mx.get("/health", token="garbage").status_code == 200


def test_wrong_method(mx):
    assert_error(mx.post("/health", {}), 405, "M_UNRECOGNIZED")


def test_only_exact_path(mx):
    assert mx.get("/healthz", token=None).status_code == 404
    assert mx.get("/health/x", token=None).status_code == 404
