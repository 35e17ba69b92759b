"""Helpers of the OpenID tests."""
from __future__ import annotations

USERINFO = "/_matrix/federation/v1/openid/userinfo"


def request_token(client, user_id=None, body=None):
    return client.post(f"/_matrix/client/v3/user/{user_id or client.user_id}/openid/request_token",
                       {} if body is None else body)
