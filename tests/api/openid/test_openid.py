"""POST /user/{userId}/openid/request_token and GET /_matrix/federation/v1/openid/userinfo."""
from __future__ import annotations

import time

from django.conf import settings

from apps.openid.models import OpenIdToken
from tests.conftest import assert_error

USERINFO = "/_matrix/federation/v1/openid/userinfo"


def _request(client, user_id=None, body=None):
    return client.post(f"/_matrix/client/v3/user/{user_id or client.user_id}/openid/request_token",
                       {} if body is None else body)


def test_request_token_and_exchange(alice, mx):
    resp = _request(alice)
    assert resp.status_code == 200, resp.json_body
    body = resp.json_body
    assert body["token_type"] == "Bearer"
    assert body["matrix_server_name"] == settings.HS.server_name
    assert body["expires_in"] == 3600
    token = body["access_token"]
    assert isinstance(token, str) and len(token) >= 32
    # Stored hashed, never as issued.
    row = OpenIdToken.objects.get()
    assert token not in row.token_hash and row.user_id == alice.user_id
    # The exchange needs no X-Matrix authentication.
    info = mx.get(f"{USERINFO}?access_token={token}", token=None)
    assert info.status_code == 200, info.json_body
    assert info.json_body == {"sub": alice.user_id}


def test_each_request_gives_a_new_token(alice, mx):
    first = _request(alice).json_body["access_token"]
    second = _request(alice).json_body["access_token"]
    assert first != second
    for token in (first, second):
        assert mx.get(f"{USERINFO}?access_token={token}", token=None).json_body == {"sub": alice.user_id}


def test_request_token_for_another_user_is_forbidden(alice, bob):
    assert_error(_request(alice, bob.user_id), 403, "M_FORBIDDEN")
    assert not OpenIdToken.objects.exists()


def test_request_token_errors(alice):
    assert_error(alice.post(f"/_matrix/client/v3/user/{alice.user_id}/openid/request_token", token=None),
                 401, "M_MISSING_TOKEN")
    assert_error(alice.request("POST", f"/_matrix/client/v3/user/{alice.user_id}/openid/request_token",
                               raw=b"[]"), 400, "M_BAD_JSON")
    assert_error(alice.request("POST", f"/_matrix/client/v3/user/{alice.user_id}/openid/request_token",
                               raw=b"nope"), 400, "M_NOT_JSON")


def test_userinfo_unknown_or_missing_token(mx):
    assert_error(mx.get(f"{USERINFO}?access_token=nope", token=None), 401, "M_UNKNOWN_TOKEN")
    assert_error(mx.get(USERINFO, token=None), 401, "M_UNKNOWN_TOKEN")


def test_userinfo_does_not_accept_a_client_access_token(alice, mx):
    assert_error(mx.get(f"{USERINFO}?access_token={alice.token}", token=None), 401, "M_UNKNOWN_TOKEN")


def test_expired_token_is_refused_and_cleaned_up(alice, mx):
    token = _request(alice).json_body["access_token"]
    OpenIdToken.objects.update(valid_until_ms=int(time.time() * 1000) - 1)
    assert_error(mx.get(f"{USERINFO}?access_token={token}", token=None), 401, "M_UNKNOWN_TOKEN")
    fresh = _request(alice).json_body["access_token"]
    assert OpenIdToken.objects.count() == 1
    assert mx.get(f"{USERINFO}?access_token={fresh}", token=None).json_body == {"sub": alice.user_id}
