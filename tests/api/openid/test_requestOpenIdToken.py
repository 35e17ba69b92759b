"""POST /user/{userId}/openid/request_token, each token checked through the federation exchange."""
from __future__ import annotations

from django.conf import settings

from apps.openid.models import OpenIdToken
from tests.api.openid.helpers import USERINFO, request_token
from tests.conftest import assert_error


def test_request_token_and_exchange(alice, mx):
    resp = request_token(alice)
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
    first = request_token(alice).json_body["access_token"]
    second = request_token(alice).json_body["access_token"]
    assert first != second
    for token in (first, second):
        assert mx.get(f"{USERINFO}?access_token={token}", token=None).json_body == {"sub": alice.user_id}


def test_request_token_for_another_user_is_forbidden(alice, bob):
    assert_error(request_token(alice, bob.user_id), 403, "M_FORBIDDEN")
    assert not OpenIdToken.objects.exists()


def test_request_token_errors(alice):
    assert_error(alice.post(f"/_matrix/client/v3/user/{alice.user_id}/openid/request_token", token=None),
                 401, "M_MISSING_TOKEN")
    assert_error(alice.request("POST", f"/_matrix/client/v3/user/{alice.user_id}/openid/request_token",
                               raw=b"[]"), 400, "M_BAD_JSON")
    assert_error(alice.request("POST", f"/_matrix/client/v3/user/{alice.user_id}/openid/request_token",
                               raw=b"nope"), 400, "M_NOT_JSON")
