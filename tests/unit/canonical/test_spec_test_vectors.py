"""The spec's test vectors (matrix-spec content/appendices.md): unpadded Base64, canonical JSON,
JSON signing and event signing, checked against the libraries the project uses for them."""
import copy
import hashlib
import json

import pytest
from canonicaljson import encode_canonical_json
from signedjson.key import decode_signing_key_base64, get_verify_key
from signedjson.sign import sign_json, verify_signed_json
from unpaddedbase64 import decode_base64, encode_base64

# Appendices, "Unpadded Base64".
@pytest.mark.parametrize("raw, encoded", [
    (b"", ""), (b"f", "Zg"), (b"fo", "Zm8"), (b"foo", "Zm9v"),
    (b"foob", "Zm9vYg"), (b"fooba", "Zm9vYmE"), (b"foobar", "Zm9vYmFy"),
])
def test_unpadded_base64(raw, encoded):
    assert encode_base64(raw) == encoded
    assert decode_base64(encoded) == raw


def test_unpadded_base64_decoding_accepts_padding():
    # Spec: implementations SHOULD accept input with or without padding.
    assert decode_base64("Zm8=") == b"fo"


def test_url_safe_alphabet():
    assert encode_base64(b"\xfb\xff", urlsafe=True) == "-_8"
    assert encode_base64(b"\xfb\xff") == "+/8"


# Appendices, "Canonical JSON" examples: (input as written in the spec, expected canonical form).
CANONICAL_EXAMPLES = [
    ("{}", "{}"),
    ('{\n    "one": 1,\n    "two": "Two"\n}', '{"one":1,"two":"Two"}'),
    ('{\n    "b": "2",\n    "a": "1"\n}', '{"a":"1","b":"2"}'),
    ('{"b":"2","a":"1"}', '{"a":"1","b":"2"}'),
    ("""{
    "auth": {
        "success": true,
        "mxid": "@john.doe:example.com",
        "profile": {
            "display_name": "John Doe",
            "three_pids": [
                {
                    "medium": "email",
                    "address": "john.doe@example.org"
                },
                {
                    "medium": "msisdn",
                    "address": "123456789"
                }
            ]
        }
    }
}""",
     '{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":'
     '[{"address":"john.doe@example.org","medium":"email"},{"address":"123456789","medium":"msisdn"}]},'
     '"success":true}}'),
    ('{\n    "a": "日本語"\n}', '{"a":"日本語"}'),
    ('{\n    "本": 2,\n    "日": 1\n}', '{"日":1,"本":2}'),
    ('{\n    "a": "\\u65E5"\n}', '{"a":"日"}'),
    ('{\n    "a": null\n}', '{"a":null}'),
]


@pytest.mark.parametrize("source, expected", CANONICAL_EXAMPLES)
def test_canonical_json_examples(source, expected):
    assert encode_canonical_json(json.loads(source)) == expected.encode("utf-8")


def test_canonical_json_numbers():
    # The spec's last example, `{"a": -0, "b": 1e10}` -> `{"a":0,"b":10000000000}`: canonical JSON
    # has integers only, so the exponent form denotes the integer 10000000000.
    assert encode_canonical_json({"a": -0, "b": 10_000_000_000}) == b'{"a":0,"b":10000000000}'
    assert encode_canonical_json(json.loads('{"a": -0}')) == b'{"a":0}'


# Appendices, "Cryptographic Test Vectors".
SEED = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"
SERVER_NAME = "domain"
KEY_ID = "ed25519:1"


@pytest.fixture
def key():
    return decode_signing_key_base64("ed25519", "1", SEED)


@pytest.mark.parametrize("obj, signature", [
    ({}, "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ"),
    ({"one": 1, "two": "Two"},
     "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"),
])
def test_json_signing(key, obj, signature):
    expected = {**copy.deepcopy(obj), "signatures": {SERVER_NAME: {KEY_ID: signature}}}
    signed = sign_json(copy.deepcopy(obj), SERVER_NAME, key)
    assert signed == expected
    verify_signed_json(signed, SERVER_NAME, get_verify_key(key))


def test_signature_ignores_unsigned_and_keeps_it(key):
    signed = sign_json({"one": 1, "two": "Two", "unsigned": {"age_ts": 5}}, SERVER_NAME, key)
    assert signed["unsigned"] == {"age_ts": 5}
    assert signed["signatures"][SERVER_NAME][KEY_ID] == (
        "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw")


# Event signing (server-server API, "Signing events"): compute the content hash over the event without
# `unsigned`, `signatures` and `hashes`; then sign the redacted event (which keeps `hashes`) and copy the
# signatures onto the full event. Redaction here is the room v1 algorithm's top-level key list, enough
# for these vectors (neither event type keeps any content key); the rooms app owns the full algorithm.
V1_KEPT_KEYS = {"event_id", "type", "room_id", "sender", "state_key", "content", "hashes", "signatures",
                "depth", "prev_events", "prev_state", "auth_events", "origin", "origin_server_ts", "membership"}


def content_hash(event):
    stripped = {k: v for k, v in event.items() if k not in ("unsigned", "signatures", "hashes")}
    return encode_base64(hashlib.sha256(encode_canonical_json(stripped)).digest())


def redact_v1_without_content_keys(event):
    redacted = {k: v for k, v in event.items() if k in V1_KEPT_KEYS}
    redacted["content"] = {}
    return redacted


def sign_event(event, key):
    event = copy.deepcopy(event)
    event["hashes"] = {"sha256": content_hash(event)}
    signed_redacted = sign_json(redact_v1_without_content_keys(event), SERVER_NAME, key)
    event["signatures"] = signed_redacted["signatures"]
    return event


MINIMAL_EVENT = {
    "room_id": "!x:domain", "sender": "@a:domain", "origin": "domain", "origin_server_ts": 1000000,
    "signatures": {}, "hashes": {}, "type": "X", "content": {}, "prev_events": [], "auth_events": [],
    "depth": 3, "unsigned": {"age_ts": 1000000},
}
MINIMAL_EVENT_SIGNED = {
    "auth_events": [], "content": {}, "depth": 3,
    "hashes": {"sha256": "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"},
    "origin": "domain", "origin_server_ts": 1000000, "prev_events": [], "room_id": "!x:domain",
    "sender": "@a:domain",
    "signatures": {"domain": {"ed25519:1": (
        "KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg")}},
    "type": "X", "unsigned": {"age_ts": 1000000},
}
MESSAGE_EVENT = {
    "content": {"body": "Here is the message content"}, "event_id": "$0:domain", "origin": "domain",
    "origin_server_ts": 1000000, "type": "m.room.message", "room_id": "!r:domain", "sender": "@u:domain",
    "signatures": {}, "unsigned": {"age_ts": 1000000},
}
MESSAGE_EVENT_SIGNED = {
    "content": {"body": "Here is the message content"}, "event_id": "$0:domain",
    "hashes": {"sha256": "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g"},
    "origin": "domain", "origin_server_ts": 1000000, "type": "m.room.message", "room_id": "!r:domain",
    "sender": "@u:domain",
    "signatures": {"domain": {"ed25519:1": (
        "Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA")}},
    "unsigned": {"age_ts": 1000000},
}


@pytest.mark.parametrize("event, expected", [(MINIMAL_EVENT, MINIMAL_EVENT_SIGNED),
                                             (MESSAGE_EVENT, MESSAGE_EVENT_SIGNED)],
                         ids=["minimal", "redactable-content"])
def test_event_signing(key, event, expected):
    signed = sign_event(event, key)
    assert signed == expected
    # A receiving server checks the signature on the redacted form.
    verify_signed_json(redact_v1_without_content_keys(signed), SERVER_NAME, get_verify_key(key))


def test_server_signing_module_matches_the_vectors(settings, tmp_path):
    """apps.federation.signing, given the vector key, produces the vector signatures."""
    from apps.federation import signing

    path = tmp_path / "vector.key"
    path.write_text(f"ed25519 1 {SEED}\n")
    settings.HS = settings.HS.replace(signing_key_path=path, server_name=SERVER_NAME)
    signing._clear_cache_for_tests()
    try:
        assert signing.signing_key_id() == KEY_ID
        assert signing.sign({})["signatures"] == {SERVER_NAME: {KEY_ID: (
            "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ")}}
    finally:
        signing._clear_cache_for_tests()
