"""GET /_matrix/federation/v1/openid/userinfo (server-server exchangeOpenIdToken): no X-Matrix auth."""
from __future__ import annotations

import time

from apps.openid.models import OpenIdToken
from tests.api.openid.helpers import USERINFO, request_token
from tests.conftest import assert_error


def test_userinfo_unknown_or_missing_token(mx):
    assert_error(mx.get(f"{USERINFO}?access_token=nope", token=None), 401, "M_UNKNOWN_TOKEN")
    assert_error(mx.get(USERINFO, token=None), 401, "M_UNKNOWN_TOKEN")


def test_userinfo_does_not_accept_a_client_access_token(alice, mx):
    assert_error(mx.get(f"{USERINFO}?access_token={alice.token}", token=None), 401, "M_UNKNOWN_TOKEN")


def test_expired_token_is_refused_and_cleaned_up(alice, mx):
    token = request_token(alice).json_body["access_token"]
    OpenIdToken.objects.update(valid_until_ms=int(time.time() * 1000) - 1)
    assert_error(mx.get(f"{USERINFO}?access_token={token}", token=None), 401, "M_UNKNOWN_TOKEN")
    fresh = request_token(alice).json_body["access_token"]
    assert OpenIdToken.objects.count() == 1
    assert mx.get(f"{USERINFO}?access_token={fresh}", token=None).json_body == {"sub": alice.user_id}
