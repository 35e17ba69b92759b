"""Pure rules of the e2ee app: the key-backup replacement order (spec, "Server-side key backups") and
signature checking of signed JSON."""
from __future__ import annotations

import pytest
from signedjson.key import encode_verify_key_base64, generate_signing_key, get_verify_key
from signedjson.sign import sign_json

from apps.e2ee.backup import better
from apps.e2ee.handlers import verify_signature
from apps.e2ee.models import RoomKey


def _stored(is_verified: bool, fmi: int, fwd: int) -> RoomKey:
    return RoomKey(is_verified=is_verified, first_message_index=fmi, forwarded_count=fwd)


def _new(is_verified: bool, fmi: int, fwd: int) -> dict:
    return {"is_verified": is_verified, "first_message_index": fmi, "forwarded_count": fwd}


@pytest.mark.parametrize("new, old, replaces", [
    (_new(True, 10, 5), _stored(False, 0, 0), True),     # verified wins over everything else
    (_new(False, 0, 0), _stored(True, 10, 5), False),
    (_new(True, 3, 9), _stored(True, 4, 0), True),       # then the lower first_message_index
    (_new(False, 5, 0), _stored(False, 4, 9), False),
    (_new(False, 4, 1), _stored(False, 4, 2), True),     # then the lower forwarded_count
    (_new(False, 4, 2), _stored(False, 4, 1), False),
    (_new(True, 4, 2), _stored(True, 4, 2), False),      # a tie keeps the stored key
])
def test_backup_replacement_order(new, old, replaces):
    assert better(new, old) is replaces


def test_verify_signature():
    key = generate_signing_key("DEV")
    public = encode_verify_key_base64(get_verify_key(key))
    obj = sign_json({"a": 1, "unsigned": {"x": 1}}, "@u:hs", key)
    assert verify_signature(obj, "@u:hs", "ed25519:DEV", public)
    assert not verify_signature(dict(obj, a=2), "@u:hs", "ed25519:DEV", public)
    assert not verify_signature(obj, "@v:hs", "ed25519:DEV", public)
    assert not verify_signature(obj, "@u:hs", "curve25519:DEV", public)
    assert not verify_signature(obj, "@u:hs", "ed25519:DEV", "not base64!")
    other = encode_verify_key_base64(get_verify_key(generate_signing_key("DEV")))
    assert not verify_signature(obj, "@u:hs", "ed25519:DEV", other)
    # unsigned is not covered by the signature.
    assert verify_signature(dict(obj, unsigned={"y": 2}), "@u:hs", "ed25519:DEV", public)
