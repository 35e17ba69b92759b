"""Signing events and checking received signatures: the appendices' event signing vectors, round trips,
tampering, unknown and wrong keys, key validity from v5, and the servers that must sign."""
import copy

import pytest
from signedjson.key import decode_signing_key_base64, generate_signing_key, get_verify_key
from signedjson.sign import verify_signed_json

from apps.federation import signing
from apps.rooms.event_signing import (
    SignatureError,
    check_server_signature,
    required_signers,
    sign_event,
    verify_event_signatures,
)
from apps.rooms.hashing import check_content_hash
from apps.rooms.redaction import prune_event_dict
from apps.rooms.room_versions import KNOWN_ROOM_VERSIONS, V1, V2, V3, V4, V5, V6, V7, V8, V10, V11, V12

# Appendices, "Cryptographic Test Vectors".
SPEC_KEY = decode_signing_key_base64("ed25519", "1", "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1")

MINIMAL = {
    "room_id": "!x:domain", "sender": "@a:domain", "origin": "domain", "origin_server_ts": 1000000,
    "signatures": {}, "hashes": {}, "type": "X", "content": {}, "prev_events": [], "auth_events": [],
    "depth": 3, "unsigned": {"age_ts": 1000000},
}
MINIMAL_SIGNED = {
    "auth_events": [], "content": {}, "depth": 3,
    "hashes": {"sha256": "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"},
    "origin": "domain", "origin_server_ts": 1000000, "prev_events": [], "room_id": "!x:domain",
    "sender": "@a:domain",
    "signatures": {"domain": {"ed25519:1": "KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg"}},
    "type": "X", "unsigned": {"age_ts": 1000000},
}
REDACTABLE = {
    "content": {"body": "Here is the message content"}, "event_id": "$0:domain", "origin": "domain",
    "origin_server_ts": 1000000, "type": "m.room.message", "room_id": "!r:domain", "sender": "@u:domain",
    "signatures": {}, "unsigned": {"age_ts": 1000000},
}
REDACTABLE_SIGNED = {
    "content": {"body": "Here is the message content"}, "event_id": "$0:domain",
    "hashes": {"sha256": "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g"},
    "origin": "domain", "origin_server_ts": 1000000, "type": "m.room.message", "room_id": "!r:domain",
    "sender": "@u:domain",
    "signatures": {"domain": {"ed25519:1": "Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA"}},
    "unsigned": {"age_ts": 1000000},
}

# The vectors predate v11: they keep `origin`, so they hold for the v1-v10 redaction rules.
PRE_V11 = [rv for rv in KNOWN_ROOM_VERSIONS.values() if not rv.updated_redaction_rules]


@pytest.mark.parametrize("rv", PRE_V11, ids=lambda rv: f"v{rv.identifier}")
@pytest.mark.parametrize("pdu, expected", [(MINIMAL, MINIMAL_SIGNED), (REDACTABLE, REDACTABLE_SIGNED)],
                         ids=["minimal", "redactable"])
def test_spec_event_signing_vectors(rv, pdu, expected):
    assert sign_event(copy.deepcopy(pdu), rv, "domain", SPEC_KEY) == expected


def test_spec_vector_redacted_form_carries_the_signature():
    # The signature covers the redacted event: body stripped, hashes kept, unsigned gone.
    redacted = prune_event_dict(V1, REDACTABLE_SIGNED)
    assert redacted == {
        "content": {}, "event_id": "$0:domain", "hashes": REDACTABLE_SIGNED["hashes"], "origin": "domain",
        "origin_server_ts": 1000000, "type": "m.room.message", "room_id": "!r:domain", "sender": "@u:domain",
        "signatures": REDACTABLE_SIGNED["signatures"],
    }
    verify_signed_json(redacted, "domain", get_verify_key(SPEC_KEY))


def test_spec_vector_verifies():
    lookup = keys({("domain", "ed25519:1"): (get_verify_key(SPEC_KEY), 2**62)})
    verify_event_signatures(REDACTABLE_SIGNED, V1, lookup)  # carries the event_id v1 needs
    for pdu in (MINIMAL_SIGNED, REDACTABLE_SIGNED):
        verify_event_signatures(pdu, V3, lookup)
        assert check_content_hash(pdu)


# Round trips --------------------------------------------------------------------------------------
KEY_A = generate_signing_key("a1")
KEY_B = generate_signing_key("b1")


def keys(table):
    return lambda server, key_id: table.get((server, key_id))


def lookup_for(valid_until=2**62):
    return keys({("a.example", "ed25519:a1"): (get_verify_key(KEY_A), valid_until),
                 ("b.example", "ed25519:b1"): (get_verify_key(KEY_B), valid_until)})


def v4_event(**extra):
    pdu = {"type": "m.room.message", "sender": "@alice:a.example", "room_id": "!r:a.example",
           "content": {"body": "hello"}, "origin_server_ts": 1_700_000_000_000, "depth": 5,
           "prev_events": ["$p"], "auth_events": ["$c"], "hashes": {}, "signatures": {}}
    pdu.update(extra)
    return pdu


def signed(pdu, rv, server="a.example", key=KEY_A):
    return sign_event(pdu, rv, server, key)


@pytest.mark.parametrize("rv", list(KNOWN_ROOM_VERSIONS.values()), ids=lambda rv: f"v{rv.identifier}")
def test_sign_then_verify_every_version(rv):
    extra = {"event_id": "$1:a.example", "prev_events": [], "auth_events": []} if rv.event_format == 1 else {}
    pdu = signed(v4_event(**extra), rv)
    assert set(pdu["signatures"]) == {"a.example"}
    verify_event_signatures(pdu, rv, lookup_for())
    assert check_content_hash(pdu)
    # The redacted copy still verifies (signatures survive redaction) but fails the hash check.
    redacted = prune_event_dict(rv, pdu)
    verify_event_signatures(redacted, rv, lookup_for())
    assert not check_content_hash(redacted)


def test_tampered_essential_field_fails():
    pdu = signed(v4_event(), V10)
    for key, value in [("sender", "@mallory:a.example"), ("depth", 6), ("origin_server_ts", 1),
                       ("room_id", "!other:a.example"), ("prev_events", ["$x"])]:
        with pytest.raises(SignatureError):
            verify_event_signatures(dict(pdu, **{key: value}), V10, lookup_for())


def test_tampered_content_fails_via_hash_not_signature():
    pdu = signed(v4_event(), V10)
    tampered = dict(pdu, content={"body": "changed"})
    verify_event_signatures(tampered, V10, lookup_for())  # message content is not signed directly ...
    assert not check_content_hash(tampered)  # ... the content hash catches it
    with pytest.raises(SignatureError):
        verify_event_signatures(dict(tampered, hashes={"sha256": "x" * 43}), V10, lookup_for())


def test_tampered_protected_content_fails_signature():
    pdu = signed(v4_event(type="m.room.member", state_key="@alice:a.example", content={"membership": "join"}), V10)
    with pytest.raises(SignatureError):
        verify_event_signatures(dict(pdu, content={"membership": "leave"}), V10, lookup_for())


def test_wrong_key_fails():
    pdu = signed(v4_event(), V10)
    lookup = keys({("a.example", "ed25519:a1"): (get_verify_key(KEY_B), 2**62)})
    with pytest.raises(SignatureError, match="Invalid signature"):
        verify_event_signatures(pdu, V10, lookup)


def test_signed_by_other_server_fails():
    pdu = signed(v4_event(), V10, server="b.example", key=KEY_B)
    with pytest.raises(SignatureError, match="not signed by a.example") as e:
        verify_event_signatures(pdu, V10, lookup_for())
    assert e.value.server_name == "a.example"
    assert e.value.errcode == "M_FORBIDDEN"


def test_unknown_key_only_fails_and_unknown_keys_are_skipped():
    pdu = signed(v4_event(), V10)
    with pytest.raises(SignatureError, match="known, valid key"):
        verify_event_signatures(pdu, V10, keys({}))
    # An extra signature by a key we do not know is ignored when a known one verifies.
    pdu["signatures"]["a.example"]["ed25519:gone"] = "AAAA"
    pdu["signatures"]["a.example"]["curve25519:x"] = "AAAA"
    verify_event_signatures(pdu, V10, lookup_for())


def test_signing_keeps_other_servers_signatures():
    pdu = signed(v4_event(), V10, server="b.example", key=KEY_B)
    before = copy.deepcopy(pdu["signatures"])
    signed(pdu, V10)
    assert pdu["signatures"]["b.example"] == before["b.example"]
    assert set(pdu["signatures"]) == {"a.example", "b.example"}
    check_server_signature(pdu, V10, "b.example", lookup_for())
    verify_event_signatures(pdu, V10, lookup_for())


def test_signing_does_not_share_signature_dicts_with_input():
    sigs = {"b.example": {"ed25519:b1": "x"}}
    pdu = v4_event(signatures=sigs)
    signed(pdu, V10)
    assert sigs == {"b.example": {"ed25519:b1": "x"}}


# Key validity (fragments/v5-signing-requirements.md) ----------------------------------------------
@pytest.mark.parametrize("rv, accepted", [(V1, True), (V3, True), (V4, True), (V5, False), (V6, False),
                                          (V10, False), (V11, False), (V12, False)],
                         ids=lambda x: getattr(x, "identifier", ""))
def test_key_expired_before_event_rejected_from_v5(rv, accepted):
    extra = {"event_id": "$1:a.example", "prev_events": [], "auth_events": []} if rv.event_format == 1 else {}
    pdu = signed(v4_event(**extra), rv)
    expired = lookup_for(valid_until=pdu["origin_server_ts"] - 1)
    if accepted:
        verify_event_signatures(pdu, rv, expired)
    else:
        with pytest.raises(SignatureError):
            verify_event_signatures(pdu, rv, expired)
    # Valid exactly at the event's timestamp is enough.
    verify_event_signatures(pdu, rv, lookup_for(valid_until=pdu["origin_server_ts"]))


# Required signers ---------------------------------------------------------------------------------
def test_v1_v2_require_event_id_domain_signature():
    for rv in (V1, V2):
        pdu = {**v4_event(), "event_id": "$join:b.example", "prev_events": [], "auth_events": []}
        assert required_signers(pdu, rv) == ["a.example", "b.example"]
        signed(pdu, rv)
        with pytest.raises(SignatureError, match="b.example"):
            verify_event_signatures(pdu, rv, lookup_for())
        signed(pdu, rv, server="b.example", key=KEY_B)
        verify_event_signatures(pdu, rv, lookup_for())


def test_v3_plus_only_sender_server():
    pdu = v4_event(event_id="$join:b.example")
    assert required_signers(pdu, V3) == ["a.example"]


def test_third_party_invite_needs_no_sender_signature():
    pdu = v4_event(type="m.room.member", state_key="@bob:c.example",
                   content={"membership": "invite", "third_party_invite": {"signed": {}}})
    assert required_signers(pdu, V10) == []
    signed(pdu, V10, server="b.example", key=KEY_B)  # sent by another server
    verify_event_signatures(pdu, V10, lookup_for())
    # An ordinary invite does need it.
    assert required_signers(dict(pdu, content={"membership": "invite"}), V10) == ["a.example"]


RESTRICTED_JOIN = {"type": "m.room.member", "state_key": "@alice:a.example",
                   "content": {"membership": "join", "join_authorised_via_users_server": "@admin:b.example"}}


@pytest.mark.parametrize("rv, needs_authoriser", [(V7, False), (V8, True), (V10, True), (V12, True)],
                         ids=lambda x: getattr(x, "identifier", ""))
def test_restricted_join_needs_authorising_server_signature(rv, needs_authoriser):
    pdu = v4_event(**RESTRICTED_JOIN)
    assert required_signers(pdu, rv) == (["a.example", "b.example"] if needs_authoriser else ["a.example"])
    signed(pdu, rv)
    if needs_authoriser:
        with pytest.raises(SignatureError, match="b.example"):
            verify_event_signatures(pdu, rv, lookup_for())
        signed(pdu, rv, server="b.example", key=KEY_B)
    verify_event_signatures(pdu, rv, lookup_for())


def test_bad_sender_is_a_signature_error():
    with pytest.raises(SignatureError):
        required_signers(v4_event(sender="nobody"), V10)


def test_v11_signature_does_not_cover_origin():
    pdu = signed(v4_event(origin="a.example"), V11)
    verify_event_signatures(dict(pdu, origin="elsewhere"), V11, lookup_for())
    with pytest.raises(SignatureError):
        verify_event_signatures(dict(signed(v4_event(origin="a.example"), V10), origin="elsewhere"), V10,
                                lookup_for())


# The server's own key -----------------------------------------------------------------------------
@pytest.fixture
def server_key(tmp_path, settings):
    settings.HS = settings.HS.replace(signing_key_path=tmp_path / "server.signing.key")
    signing._clear_cache_for_tests()
    yield signing.signing_key()
    signing._clear_cache_for_tests()


def test_sign_event_defaults_to_server_name_and_key(server_key, settings):
    server = settings.HS.server_name
    pdu = sign_event(v4_event(sender=f"@alice:{server}"), V12)
    key_id = signing.key_id(server_key)
    assert set(pdu["signatures"][server]) == {key_id}
    verify_event_signatures(pdu, V12, keys({(server, key_id): (get_verify_key(server_key), 2**62)}))
