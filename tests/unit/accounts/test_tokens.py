"""Token strings: format, checksum, hashing (apps.accounts.tokens)."""
from unpaddedbase64 import decode_base64

from apps.accounts import tokens


def test_access_token_format_carries_localpart():
    t = tokens.new_access_token("alice")
    prefix, b64, rand, crc = t.split("_")
    assert prefix == "syt" and decode_base64(b64) == b"alice" and len(rand) == 20 and len(crc) == 6
    assert tokens.checksum_ok(t)


def test_refresh_token_prefix():
    assert tokens.new_refresh_token("alice").startswith("syr_")


def test_checksum_detects_typos():
    t = tokens.new_access_token("alice")
    typo = t[:-8] + ("A" if t[-8] != "A" else "B") + t[-7:]
    assert not tokens.checksum_ok(typo)
    assert not tokens.checksum_ok("nonsense")
    assert not tokens.checksum_ok("")


def test_tokens_are_unique_and_hashed():
    a, b = tokens.new_access_token("x"), tokens.new_access_token("x")
    assert a != b
    assert tokens.token_hash(a) != tokens.token_hash(b) and len(tokens.token_hash(a)) == 64
    assert tokens.token_prefix(a) == a[:12]


def test_device_ids():
    d = tokens.new_device_id()
    assert len(d) == 10 and d.isupper() and d.isalpha()
