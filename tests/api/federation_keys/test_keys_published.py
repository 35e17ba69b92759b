"""GET /_matrix/key/v2/server with `old_signing_keys` and `key_refresh_interval`: the retired keys under
`old_verify_keys`, the response cacheable for the configured interval, and the configuration checks."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from signedjson.key import decode_verify_key_bytes, encode_verify_key_base64, get_verify_key
from signedjson.sign import verify_signed_json
from unpaddedbase64 import decode_base64

from apps.federation import signing
from hsproject.config.errors import ConfigError
from hsproject.config.sections import OldSigningKey, build
from tests.federation_support import new_signing_key

PATH = "/_matrix/key/v2/server"
HOUR = 3600 * 1000
BASE = {"server_name": "example.org", "form_secret": "s"}


def now_ms() -> int:
    return int(time.time() * 1000)


def old_key(version: str, expired_ts: int) -> OldSigningKey:
    return OldSigningKey(f"ed25519:{version}", encode_verify_key_base64(get_verify_key(new_signing_key(version))),
                         expired_ts)


def _self_signed(body, server_name):
    (key_id,) = body["verify_keys"]
    verify_signed_json(body, server_name, decode_verify_key_bytes(key_id, decode_base64(body["verify_keys"][key_id]["key"])))


def test_old_signing_keys_are_published_as_old_verify_keys(mx, settings):
    retired = [old_key("old1", 1_600_000_000_000), old_key("old2", now_ms() - HOUR)]
    settings.HS = settings.HS.replace(old_signing_keys=tuple(retired))
    body = mx.get(PATH, token=None).json_body
    assert body["old_verify_keys"] == {k.key_id: {"key": k.key, "expired_ts": k.expired_ts} for k in retired}
    assert list(body["verify_keys"]) == [signing.signing_key_id()]
    # The whole response, old keys included, is signed by the current key only.
    assert set(body["signatures"][settings.HS.server_name]) == {signing.signing_key_id()}
    _self_signed(body, settings.HS.server_name)


def test_an_old_key_with_the_current_key_id_is_not_published(mx, settings):
    current = signing.signing_key_id()
    clash = OldSigningKey(current, encode_verify_key_base64(get_verify_key(new_signing_key("x"))), 1)
    settings.HS = settings.HS.replace(old_signing_keys=(clash,))
    body = mx.get(PATH, token=None).json_body
    assert body["old_verify_keys"] == {}
    assert list(body["verify_keys"]) == [current]


def test_valid_until_ts_follows_key_refresh_interval(mx, settings):
    settings.HS = settings.HS.replace(key_refresh_interval_ms=2 * HOUR)
    before = now_ms()
    body = mx.get(PATH, token=None).json_body
    after = now_ms()
    assert before + 2 * HOUR <= body["valid_until_ts"] <= after + 2 * HOUR
    _self_signed(body, settings.HS.server_name)


def test_the_notary_answer_about_this_server_has_the_old_keys(mx, settings):
    retired = old_key("old1", now_ms() - HOUR)
    settings.HS = settings.HS.replace(old_signing_keys=(retired,))
    me = settings.HS.server_name
    resp = mx.post("/_matrix/key/v2/query", {"server_keys": {me: {retired.key_id: {}}}}, token=None)
    assert resp.status_code == 200, resp.json_body
    (entry,) = resp.json_body["server_keys"]
    assert entry["old_verify_keys"] == {retired.key_id: {"key": retired.key, "expired_ts": retired.expired_ts}}
    _self_signed(entry, me)


# --- configuration ---------------------------------------------------------------------------------------

def _build(**raw):
    return build({**BASE, **raw}, embedded=False, data_directory=Path("/tmp/hs-doc-test"))


def test_config_reads_old_signing_keys_and_key_refresh_interval():
    key = encode_verify_key_base64(get_verify_key(new_signing_key("a_old")))
    cfg = _build(old_signing_keys={"ed25519:a_old": {"key": key, "expired_ts": 1_700_000_000_000}},
                 key_refresh_interval="2h")
    assert cfg.old_signing_keys == (OldSigningKey("ed25519:a_old", key, 1_700_000_000_000),)
    assert cfg.key_refresh_interval_ms == 2 * HOUR
    defaults = _build()
    assert defaults.old_signing_keys == () and defaults.key_refresh_interval_ms == 24 * HOUR


@pytest.mark.parametrize("old, named", [
    ({"ed25519:bad id": {"key": "KEY", "expired_ts": 1}}, "old_signing_keys.ed25519:bad id"),
    ({"curve25519:a": {"key": "KEY", "expired_ts": 1}}, "old_signing_keys.curve25519:a"),
    ({"ed25519:a": {"key": "not base64!", "expired_ts": 1}}, "old_signing_keys.ed25519:a.key"),
    ({"ed25519:a": {"key": "AAAA", "expired_ts": 1}}, "old_signing_keys.ed25519:a.key"),  # 3 bytes, not 32
    ({"ed25519:a": {"expired_ts": 1}}, "old_signing_keys.ed25519:a.key"),
    ({"ed25519:a": {"key": "KEY"}}, "old_signing_keys.ed25519:a.expired_ts"),
    ({"ed25519:a": {"key": "KEY", "expired_ts": "yesterday"}}, "old_signing_keys.ed25519:a.expired_ts"),
    ({"ed25519:a": {"key": "KEY", "expired_ts": 1, "valid": True}}, "old_signing_keys.ed25519:a.valid"),
    ({"ed25519:a": "KEY"}, "old_signing_keys.ed25519:a"),
    (["ed25519:a"], "old_signing_keys"),
])
def test_bad_old_signing_keys_are_refused_naming_the_key(old, named):
    key = encode_verify_key_base64(get_verify_key(new_signing_key("a")))
    for entry in old.values() if isinstance(old, dict) else ():
        if isinstance(entry, dict) and entry.get("key") == "KEY":
            entry["key"] = key
    with pytest.raises(ConfigError) as e:
        _build(old_signing_keys=old)
    assert e.value.key == named


@pytest.mark.parametrize("value", [0, "0s", "soon", -5])
def test_bad_key_refresh_interval_is_refused(value):
    with pytest.raises(ConfigError) as e:
        _build(key_refresh_interval=value)
    assert e.value.key == "key_refresh_interval"
