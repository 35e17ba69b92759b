"""Content hashes, reference hashes, event IDs (v3 vs v4+) and v12 room IDs."""
import copy
import hashlib

import pytest
from canonicaljson import encode_canonical_json
from unpaddedbase64 import decode_base64, encode_base64

from apps.rooms import hashing
from apps.rooms.events import Event
from apps.rooms.room_versions import KNOWN_ROOM_VERSIONS, V1, V2, V3, V4, V5, V10, V11, V12

# Appendices, "Event Signing": the two events and their expected `hashes.sha256`.
MINIMAL = {
    "room_id": "!x:domain", "sender": "@a:domain", "origin": "domain", "origin_server_ts": 1000000,
    "signatures": {}, "hashes": {}, "type": "X", "content": {}, "prev_events": [], "auth_events": [],
    "depth": 3, "unsigned": {"age_ts": 1000000},
}
REDACTABLE = {
    "content": {"body": "Here is the message content"}, "event_id": "$0:domain", "origin": "domain",
    "origin_server_ts": 1000000, "type": "m.room.message", "room_id": "!r:domain", "sender": "@u:domain",
    "signatures": {}, "unsigned": {"age_ts": 1000000},
}


@pytest.mark.parametrize("pdu, expected", [
    (MINIMAL, "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"),
    (REDACTABLE, "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g"),
])
def test_content_hash_spec_vectors(pdu, expected):
    assert encode_base64(hashing.compute_content_hash(pdu)) == expected
    added = hashing.add_content_hash(copy.deepcopy(pdu))
    assert added["hashes"] == {"sha256": expected}
    assert hashing.check_content_hash(added)


def test_content_hash_ignores_unsigned_signatures_and_hashes():
    base = hashing.compute_content_hash(MINIMAL)
    other = dict(MINIMAL, unsigned={"age": 5}, signatures={"x": {"ed25519:1": "sig"}},
                 hashes={"sha256": "whatever", "sha512": "x"})
    assert hashing.compute_content_hash(other) == base
    # ... but covers everything else, unredacted content included.
    assert hashing.compute_content_hash(dict(MINIMAL, content={"body": "x"})) != base
    assert hashing.compute_content_hash(dict(MINIMAL, origin="other")) != base


def test_add_content_hash_keeps_other_algorithms():
    pdu = dict(copy.deepcopy(MINIMAL), hashes={"sha512": "keep"})
    hashing.add_content_hash(pdu)
    assert set(pdu["hashes"]) == {"sha256", "sha512"}


@pytest.mark.parametrize("hashes", [{}, {"sha256": 5}, {"sha256": "!!!not base64"}, "str", None])
def test_check_content_hash_rejects_missing_or_malformed(hashes):
    assert not hashing.check_content_hash(dict(MINIMAL, hashes=hashes))


def test_check_content_hash_detects_tampering_and_redaction():
    pdu = hashing.add_content_hash(copy.deepcopy(REDACTABLE))
    assert hashing.check_content_hash(pdu)
    assert not hashing.check_content_hash(dict(pdu, content={"body": "changed"}))
    assert not hashing.check_content_hash(dict(pdu, content={}))  # a redacted copy


def test_reference_hash_is_sha256_of_redacted_event_without_signatures_and_unsigned():
    pdu = hashing.add_content_hash(copy.deepcopy(REDACTABLE))
    pdu["signatures"] = {"domain": {"ed25519:1": "sig"}}
    expected_json = {k: v for k, v in pdu.items() if k not in ("signatures", "unsigned")}
    expected_json["content"] = {}  # m.room.message content is redacted away
    assert hashing.compute_reference_hash(pdu, V4) == hashlib.sha256(encode_canonical_json(expected_json)).digest()


def test_reference_hash_ignores_signatures_unsigned_and_redactable_content():
    pdu = hashing.add_content_hash(copy.deepcopy(REDACTABLE))
    ref = hashing.compute_reference_hash(pdu, V4)
    assert hashing.compute_reference_hash(dict(pdu, signatures={"a": {"ed25519:x": "y"}}), V4) == ref
    assert hashing.compute_reference_hash(dict(pdu, unsigned={"age": 1}), V4) == ref
    assert hashing.compute_reference_hash(dict(pdu, age_ts=12), V4) == ref
    # The content hash still changes the reference hash, so a content change changes the ID.
    changed = hashing.add_content_hash(dict(pdu, content={"body": "other"}))
    assert hashing.compute_reference_hash(changed, V4) != ref
    # The reference hash of the full event equals that of its redacted copy.
    assert hashing.compute_reference_hash(dict(pdu, content={}), V4) == ref


def test_reference_hash_depends_on_version_redaction_rules():
    # v11 drops `origin` from the redacted form; v1-v10 keep it.
    pdu = hashing.add_content_hash(copy.deepcopy(MINIMAL))
    assert hashing.compute_reference_hash(pdu, V10) != hashing.compute_reference_hash(pdu, V11)
    assert hashing.compute_reference_hash(pdu, V11) == hashing.compute_reference_hash(
        {k: v for k, v in pdu.items() if k != "origin"}, V11)


def test_event_id_v3_standard_base64_v4_url_safe():
    pdu = copy.deepcopy(REDACTABLE)
    del pdu["event_id"]
    hashing.add_content_hash(pdu)
    ref = hashing.compute_reference_hash(pdu, V3)
    assert ref == hashing.compute_reference_hash(pdu, V4)
    assert hashing.compute_event_id(pdu, V3) == "$" + encode_base64(ref)
    assert hashing.compute_event_id(pdu, V4) == "$" + encode_base64(ref, urlsafe=True)
    assert decode_base64(hashing.compute_event_id(pdu, V5)[1:].replace("-", "+").replace("_", "/")) == ref
    assert "=" not in hashing.compute_event_id(pdu, V4)


def test_event_id_alphabets_differ_when_hash_has_63_or_64():
    # Find a depth whose hash contains '+' or '/' so the two alphabets visibly differ.
    for depth in range(200):
        pdu = hashing.add_content_hash(dict(copy.deepcopy(MINIMAL), depth=depth))
        v3, v4 = hashing.compute_event_id(pdu, V3), hashing.compute_event_id(pdu, V4)
        if v3 != v4:
            break
    assert set(v3) & set("+/") and not set(v4) & set("+/") and set(v4) & set("-_")
    assert v4 == v3.replace("+", "-").replace("/", "_")


def test_event_id_spec_example_shape():
    pdu = hashing.add_content_hash(copy.deepcopy(MINIMAL))
    event_id = hashing.compute_event_id(pdu, V4)
    assert event_id.startswith("$") and len(event_id) == 44 and ":" not in event_id


@pytest.mark.parametrize("rv", [V1, V2])
def test_event_id_v1_v2_not_derived(rv):
    with pytest.raises(ValueError):
        hashing.compute_event_id(REDACTABLE, rv)
    assert Event(REDACTABLE, rv).event_id == "$0:domain"


def test_event_object_uses_reference_hash_for_v3_plus():
    pdu = hashing.add_content_hash(copy.deepcopy(MINIMAL))
    for rv in KNOWN_ROOM_VERSIONS.values():
        if rv.event_format != 1:
            assert Event(pdu, rv).event_id == hashing.compute_event_id(pdu, rv)


def _v12_create():
    pdu = {
        "type": "m.room.create", "state_key": "", "sender": "@creator:example.org",
        "content": {"room_version": "12"}, "origin_server_ts": 1700000000000, "depth": 1,
        "prev_events": [], "auth_events": [], "hashes": {}, "signatures": {},
    }
    return hashing.add_content_hash(pdu)


def test_v12_room_id_is_create_event_reference_hash():
    create = _v12_create()
    room_id = hashing.room_id_for_create_event(create, V12)
    ref = hashing.compute_reference_hash(create, V12)
    assert room_id == "!" + encode_base64(ref, urlsafe=True)
    assert room_id == "!" + hashing.compute_event_id(create, V12)[1:]
    assert ":" not in room_id and len(room_id) == 44
    event = Event(create, V12)
    assert event.room_id == room_id
    # Signatures and unsigned do not change the room ID.
    assert hashing.room_id_for_create_event(dict(create, signatures={"example.org": {"ed25519:a": "s"}},
                                                 unsigned={"age": 3}), V12) == room_id


@pytest.mark.parametrize("rv", [V1, V4, V11])
def test_room_id_derivation_only_v12(rv):
    with pytest.raises(ValueError):
        hashing.room_id_for_create_event(_v12_create(), rv)
