"""TURN server credentials for VoIP clients (spec: Client-Server API, "Voice over IP", TURN server).

With `turn_shared_secret` the credentials follow the TURN REST API that coturn and others implement
(draft-uberti-behave-turn-rest-00): the username is `<expiry, seconds since the epoch>:<user_id>` and the
password is base64(HMAC-SHA1(secret, username)), so the TURN server can check them without asking us.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import time

from hsproject.config.sections import VoipConfig


def rest_api_password(secret: str, username: str) -> str:
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def turn_server(cfg: VoipConfig, user_id: str, *, now_s: float | None = None) -> dict:
    """The getTurnServer answer, or {} when no TURN server (or no way to log in to it) is configured."""
    if not cfg.turn_uris:
        return {}
    if cfg.turn_shared_secret:
        ttl_s = cfg.turn_user_lifetime_ms // 1000
        expiry = int(now_s if now_s is not None else time.time()) + ttl_s
        username = f"{expiry}:{user_id}"
        password = rest_api_password(cfg.turn_shared_secret, username)
    elif cfg.turn_username and cfg.turn_password:
        ttl_s = cfg.turn_user_lifetime_ms // 1000
        username, password = cfg.turn_username, cfg.turn_password
    else:
        return {}
    return {"username": username, "password": password, "uris": list(cfg.turn_uris), "ttl": ttl_s}
