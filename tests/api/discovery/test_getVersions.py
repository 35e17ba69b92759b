"""GET /_matrix/client/versions"""
import re

from tests.conftest import assert_error


def test_versions(mx):
    resp = mx.get("/_matrix/client/versions", token=None)
    assert resp.status_code == 200
    body = resp.json_body
    assert body["unstable_features"] == {"org.matrix.msc4140": False}  # delayed events are off by default
    assert body["versions"] and all(re.fullmatch(r"v1\.\d+", v) for v in body["versions"])


def test_delayed_events_are_advertised_when_configured(mx, settings):
    settings.HS = settings.HS.replace(max_event_delay_duration_ms=86_400_000)
    body = mx.get("/_matrix/client/versions", token=None).json_body
    assert body["unstable_features"]["org.matrix.msc4140"] is True


def test_ignores_a_bad_token(mx):
    # Spec: authentication is optional here; an invalid token must not stop a client discovering us.
    assert mx.get("/_matrix/client/versions", token="garbage").status_code == 200


def test_wrong_method(mx):
    assert_error(mx.put("/_matrix/client/versions", {}), 405, "M_UNRECOGNIZED")
