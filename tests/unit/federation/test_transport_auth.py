"""apps.federation.transport_auth: X-Matrix headers parsed robustly, signatures checked, the right errors."""
from __future__ import annotations

import json

import pytest
from django.test import RequestFactory
from signedjson.key import get_verify_key

from apps.core.errors import MatrixError
from apps.federation import transport_auth as ta
from tests.federation_support import key_response, new_signing_key

ORIGIN = "remote.test"
KEY = new_signing_key("k1")
KEY_ID = "ed25519:k1"


def fetcher(known=None):
    known = {(ORIGIN, KEY_ID): KEY} if known is None else known
    calls = []

    def fetch(server, key_id, min_valid):
        calls.append((server, key_id))
        key = known.get((server, key_id))
        return bytes(get_verify_key(key)) if key else None

    fetch.calls = calls
    return fetch


def header(method="POST", uri="/_matrix/federation/v1/send/1", destination=None, content=None, *,
           origin=ORIGIN, key=KEY, settings_name=None):
    from django.conf import settings
    return ta.authorization_header(method, uri, destination or settings.HS.server_name, content,
                                   origin=origin, key=key)


def assert_matrix_error(exc_info, status, errcode):
    assert exc_info.value.status == status and exc_info.value.errcode == errcode, exc_info.value


# --- parsing ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [
    'X-Matrix origin="remote.test",destination="d.test",key="ed25519:k1",sig="abc"',
    'X-Matrix origin=remote.test,destination=d.test,key="ed25519:k1",sig=abc',
    'x-matrix  ORIGIN="remote.test" , Destination="d.test",\tkey="ed25519:k1" ,sig="abc"',
    'X-Matrix origin="remote.test",key=ed25519:k1,sig="abc",destination="d.test",extra="ignored"',
    'X-Matrix origin="re\\mote.test",destination="d.test",key="ed25519:k1",sig="a\\bc"',
])
def test_parse_valid_headers(raw):
    auth = ta.parse_authorization(raw)
    assert auth == ta.XMatrixAuth("remote.test", "d.test", "ed25519:k1", "abc")


def test_parse_without_destination():
    assert ta.parse_authorization('X-Matrix origin=a.test,key="ed25519:k",sig="s"').destination is None


def test_parse_unquoted_colons_and_port():
    auth = ta.parse_authorization("X-Matrix origin=a.test:8448,key=ed25519:k,sig=s")
    assert auth.origin == "a.test:8448" and auth.key == "ed25519:k"


@pytest.mark.parametrize("raw", [
    None, "", "Bearer abc", "X-Matrix", "X-Matrix ", "X-Matrixorigin=a", 'X-Matrix origin="a.test",key="k"',
    'X-Matrix origin="a.test",key="ed25519:k",sig="s",sig="t"', 'X-Matrix origin="a.test,key="ed25519:k",sig="s"',
    'X-Matrix origin="a.test" key="ed25519:k" sig="s"', 'X-Matrix origin=,key="ed25519:k",sig="s"',
    'X-Matrix origin="bad origin!",key="ed25519:k",sig="s"', 'X-Matrix =x', 'X-Matrix origin="a.test\\',
    'X-Matrix origin="a.test",,key="ed25519:k",sig="s"',
])
def test_parse_malformed_headers(raw):
    with pytest.raises(MatrixError) as e:
        ta.parse_authorization(raw)
    assert_matrix_error(e, 401, "M_UNAUTHORIZED")


# --- verification ------------------------------------------------------------------------------------------


def test_signed_request_verifies(settings):
    content = {"pdus": [], "edus": [{"edu_type": "m.typing", "content": {"x": "é"}}]}
    h = header(content=content)
    assert ta.verify_request("POST", "/_matrix/federation/v1/send/1", h, content, key_fetcher=fetcher()) == ORIGIN


def test_request_without_body_verifies():
    h = header("GET", "/_matrix/federation/v1/query/profile?user_id=%40a%3Aremote.test")
    assert ta.verify_request("GET", "/_matrix/federation/v1/query/profile?user_id=%40a%3Aremote.test", h, None,
                             key_fetcher=fetcher()) == ORIGIN


def test_wrong_destination_is_401():
    h = header(destination="someone-else.test")
    with pytest.raises(MatrixError) as e:
        ta.verify_request("POST", "/_matrix/federation/v1/send/1", h, None, key_fetcher=fetcher())
    assert_matrix_error(e, 401, "M_UNAUTHORIZED")


def test_missing_destination_is_accepted_as_ours(settings):
    # Older senders omit destination; the signed JSON then names us.
    signed = ta.authorization_header("GET", "/x", settings.HS.server_name, origin=ORIGIN, key=KEY)
    without = signed.replace(f'destination="{settings.HS.server_name}",', "")
    assert ta.verify_request("GET", "/x", without, None, key_fetcher=fetcher()) == ORIGIN


@pytest.mark.parametrize("change", ["method", "uri", "content", "origin", "key"])
def test_tampering_is_401(change):
    content = {"a": 1}
    method, uri = "PUT", "/_matrix/federation/v1/send/1"
    h = header(method, uri, content=content)
    other_key = new_signing_key("k1")
    known = None
    if change == "method":
        method = "POST"
    elif change == "uri":
        uri = "/_matrix/federation/v1/send/2"
    elif change == "content":
        content = {"a": 2}
    elif change == "origin":
        h = h.replace(f'origin="{ORIGIN}"', 'origin="other.test"')
        known = {("other.test", KEY_ID): other_key}
    elif change == "key":
        known = {(ORIGIN, KEY_ID): other_key}
    with pytest.raises(MatrixError) as e:
        ta.verify_request(method, uri, h, content, key_fetcher=fetcher(known))
    assert_matrix_error(e, 401, "M_UNAUTHORIZED")


def test_unknown_origin_key_is_401():
    f = fetcher({})
    with pytest.raises(MatrixError) as e:
        ta.verify_request("POST", "/x", header(uri="/x"), None, key_fetcher=f)
    assert_matrix_error(e, 401, "M_UNAUTHORIZED")
    assert f.calls == [(ORIGIN, KEY_ID)]


def test_origin_outside_federation_domain_whitelist_is_403_before_key_fetch(settings):
    settings.HS = settings.HS.replace(federation_domain_whitelist=("friend.test",))
    f = fetcher()
    with pytest.raises(MatrixError) as e:
        ta.verify_request("POST", "/x", header(uri="/x"), None, key_fetcher=f)
    assert_matrix_error(e, 403, "M_FORBIDDEN")
    assert f.calls == []


def test_non_ed25519_key_is_401():
    h = header(uri="/x").replace(KEY_ID, "curve:k1")
    with pytest.raises(MatrixError) as e:
        ta.verify_request("POST", "/x", h, None, key_fetcher=fetcher())
    assert_matrix_error(e, 401, "M_UNAUTHORIZED")


def test_our_own_header_round_trips(settings, db):
    # Signed as us, verified with our key through the keyring's own-key path.
    h = ta.authorization_header("GET", "/_matrix/key/v2/server", settings.HS.server_name)
    assert ta.verify_request("GET", "/_matrix/key/v2/server", h, None) == settings.HS.server_name


# --- Django requests -----------------------------------------------------------------------------------------


def test_authenticate_django_request():
    uri = "/_matrix/federation/v1/send/txn1?x=%40a"  # no raw URI from the test client: re-encoded path
    content = {"pdus": []}
    rf = RequestFactory()
    req = rf.put(uri, data=json.dumps(content), content_type="application/json",
                 HTTP_AUTHORIZATION=header("PUT", uri, content=content))
    assert ta.authenticate_request(req, key_fetcher=fetcher()) == ORIGIN


def test_authenticate_uses_the_raw_uri_when_the_server_gives_it():
    raw = "/_matrix/federation/v1/state/%21room%3Aremote.test?event_id=%24e"
    req = RequestFactory().get("/_matrix/federation/v1/state/!room:remote.test?event_id=%24e",
                               HTTP_AUTHORIZATION=header("GET", raw), RAW_URI=raw)
    assert ta.authenticate_request(req, key_fetcher=fetcher()) == ORIGIN


def test_body_that_is_not_json_is_400():
    req = RequestFactory().put("/x", data=b"{nope", content_type="application/json",
                               HTTP_AUTHORIZATION=header("PUT", "/x"))
    with pytest.raises(MatrixError) as e:
        ta.authenticate_request(req, key_fetcher=fetcher())
    assert_matrix_error(e, 400, "M_NOT_JSON")


def test_missing_header_is_401():
    with pytest.raises(MatrixError) as e:
        ta.authenticate_request(RequestFactory().get("/x"), key_fetcher=fetcher())
    assert_matrix_error(e, 401, "M_UNAUTHORIZED")


def test_end_to_end_with_the_origin_key_fetched_from_a_loopback_server(tls_server, db):
    """The origin is a real (loopback) server: its key is fetched by the keyring and the request verifies;
    a request signed by a key it does not publish does not."""
    server = tls_server()
    origin = server.server_name
    server.routes["/_matrix/key/v2/server"] = lambda rec: (200, {}, key_response(origin, KEY))
    req = RequestFactory().get("/_matrix/federation/v1/version",
                               HTTP_AUTHORIZATION=header("GET", "/_matrix/federation/v1/version", origin=origin))
    assert ta.authenticate_request(req) == origin
    stranger = new_signing_key("k2")
    req = RequestFactory().get("/_matrix/federation/v1/version", HTTP_AUTHORIZATION=header(
        "GET", "/_matrix/federation/v1/version", origin=origin, key=stranger))
    with pytest.raises(MatrixError) as e:
        ta.authenticate_request(req)
    assert_matrix_error(e, 401, "M_UNAUTHORIZED")


def test_authenticate_uses_the_asgi_raw_path():
    raw_path, qs = "/_matrix/federation/v1/event/%24abc%2Fdef", "x=1"
    req = RequestFactory().get("/_matrix/federation/v1/event/$abc/def?x=1",
                               HTTP_AUTHORIZATION=header("GET", f"{raw_path}?{qs}"))
    req.scope = {"raw_path": raw_path.encode(), "query_string": qs.encode()}
    assert ta.authenticate_request(req, key_fetcher=fetcher()) == ORIGIN
