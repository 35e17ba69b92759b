"""GET /voip/turnServer: TURN credentials from the shared secret (TURN REST API) or static ones."""
from __future__ import annotations

import base64
import hashlib
import hmac
import time

from hsproject.config.sections import VoipConfig
from tests.conftest import assert_error

URL = "/_matrix/client/v3/voip/turnServer"
URIS = ("turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349?transport=tcp")


def _configure(settings, **voip):
    settings.HS = settings.HS.replace(voip=VoipConfig(**voip))


def test_unconfigured_answers_empty(alice):
    resp = alice.get(URL)
    assert resp.status_code == 200
    assert resp.json_body == {}


def test_uris_without_credentials_answers_empty(alice, settings):
    _configure(settings, turn_uris=URIS)
    assert alice.get(URL).json_body == {}


def test_shared_secret_credentials(alice, settings):
    _configure(settings, turn_uris=URIS, turn_shared_secret="s3cret", turn_user_lifetime_ms=86_400_000)
    before = int(time.time())
    resp = alice.get(URL)
    after = int(time.time())
    assert resp.status_code == 200, resp.json_body
    body = resp.json_body
    assert set(body) == {"username", "password", "uris", "ttl"}
    assert body["uris"] == list(URIS) and body["ttl"] == 86400
    expiry, _, user_id = body["username"].partition(":")
    assert user_id == alice.user_id
    assert before + 86400 <= int(expiry) <= after + 86400
    expected = base64.b64encode(hmac.new(b"s3cret", body["username"].encode(), hashlib.sha1).digest()).decode()
    assert body["password"] == expected


def test_known_vector():
    # Computed independently: printf %s "$username" | openssl dgst -sha1 -hmac north -binary | base64
    from apps.voip.handlers import turn_server

    cfg = VoipConfig(turn_uris=URIS, turn_shared_secret="north", turn_user_lifetime_ms=3_600_000)
    body = turn_server(cfg, "@user:example.com", now_s=1_443_776_031)
    assert body["username"] == "1443779631:@user:example.com"
    assert body["password"] == "lamN4QwbavBEEp/krb3yR5mgsEg="
    assert body["ttl"] == 3600


def test_static_credentials(alice, settings):
    _configure(settings, turn_uris=URIS[:1], turn_username="turnuser", turn_password="turnpass")
    body = alice.get(URL).json_body
    assert body == {"username": "turnuser", "password": "turnpass", "uris": list(URIS[:1]), "ttl": 3600}


def test_requires_auth(mx, settings):
    _configure(settings, turn_uris=URIS, turn_shared_secret="s")
    assert_error(mx.get(URL, token=None), 401, "M_MISSING_TOKEN")
    assert_error(mx.get(URL, token="syt_bogus"), 401, "M_UNKNOWN_TOKEN")


def _guest(mx, settings):
    settings.HS = settings.HS.replace(allow_guest_access=True)
    resp = mx.post("/_matrix/client/v3/register?kind=guest", {}, token=None)
    assert resp.status_code == 200, resp.json_body
    mx.token = resp.json_body["access_token"]
    return mx


def test_guests_allowed_by_default(mx, settings):
    guest = _guest(mx, settings)
    settings.HS = settings.HS.replace(voip=VoipConfig(turn_uris=URIS, turn_shared_secret="s"))
    assert guest.get(URL).json_body["uris"] == list(URIS)


def test_guests_refused_when_disallowed(mx, settings):
    guest = _guest(mx, settings)
    settings.HS = settings.HS.replace(voip=VoipConfig(turn_uris=URIS, turn_shared_secret="s", turn_allow_guests=False))
    assert_error(guest.get(URL), 403, "M_FORBIDDEN")
