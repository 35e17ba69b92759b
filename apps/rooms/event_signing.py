"""Signing outgoing events and checking the signatures on received ones.

Outgoing (server-server API, "Adding hashes and signatures to outgoing events"):
  1. the content hash goes into `hashes.sha256` (`apps.rooms.hashing.add_content_hash`);
  2. the event is redacted per its room version (`apps.rooms.redaction.prune_event_dict`);
  3. the redacted copy is signed as in the appendices' "Signing JSON" (signedjson);
  4. the signature is copied back into the full event's `signatures`.

Received ("Validating hashes and signatures on received events"): the redacted event must carry
a valid signature from every required server (`required_signers`); a signature by an unknown key
is skipped, and from v5 on so is one by a key whose `valid_until_ts` is before the event's
`origin_server_ts` (fragments/v5-signing-requirements.md). A server with no usable signature, or
with a signature that does not verify, fails the check. Hashes are checked separately by the
caller (`check_content_hash`): a hash mismatch means "use the redacted copy", not "drop".

`key_lookup(server_name, key_id)` returns `(VerifyKey, valid_until_ts)` or None; capping
`valid_until_ts` at seven days ahead (v5 rule) is the keyring's business, as is fetching.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from nacl.signing import VerifyKey
from signedjson.key import decode_verify_key_bytes
from signedjson.sign import SignatureVerifyException, sign_json, verify_signed_json
from signedjson.types import SigningKey

from apps.core.errors import Codes, MatrixError
from apps.federation import signing

from .hashing import add_content_hash
from .redaction import prune_event_dict
from .room_versions import RoomVersion

KeyLookup = Callable[[str, str], "tuple[VerifyKey, int] | None"]


class SignatureError(MatrixError):
    """A received event lacks a valid signature from a server that must sign it: drop the event."""

    def __init__(self, reason: str, *, server_name: str | None = None):
        super().__init__(Codes.FORBIDDEN, reason, 403)
        self.reason = reason
        self.server_name = server_name


def sign_event(pdu: dict[str, Any], rv: RoomVersion, server_name: str | None = None,
               signing_key: SigningKey | None = None) -> dict[str, Any]:
    """Adds the content hash and this server's signature to `pdu` (in place) and returns it.

    Defaults: `settings.HS.server_name` and the server key (`apps.federation.signing`); tests pass
    both explicitly. Signatures of other servers already on `pdu` are kept."""
    if server_name is None or signing_key is None:
        server_name = server_name or settings.HS.server_name
        signing_key = signing_key or signing.signing_key()
    add_content_hash(pdu)
    redacted = prune_event_dict(rv, pdu)
    redacted.pop("signatures", None)  # sign_json writes into the dict it finds there: keep pdu's apart
    signed = sign_json(redacted, server_name, signing_key)
    signatures = {server: dict(sigs) for server, sigs in (pdu.get("signatures") or {}).items()}
    for server, sigs in signed["signatures"].items():
        signatures.setdefault(server, {}).update(sigs)
    pdu["signatures"] = signatures
    return pdu


def _domain(identifier: Any) -> str | None:
    if not isinstance(identifier, str) or ":" not in identifier:
        return None
    return identifier.split(":", 1)[1] or None


def required_signers(pdu: Mapping[str, Any], rv: RoomVersion) -> list[str]:
    """The servers whose signatures a received event must carry, in checking order.

    * The sender's server, except on an invite made from a third-party invite: its sender must
      match the 3pid invite but another server may send it (server-server API, "Validating
      hashes and signatures").
    * v1/v2: the server in the `event_id`, if different (fragments/v3-auth-rules.md).
    * v8+: for a join authorised via `join_authorised_via_users_server`, that user's server
      (fragments/v8-auth-rules.md, 4.2; Synapse checks it with the signatures).
    """
    servers: list[str] = []
    content = pdu.get("content") if isinstance(pdu.get("content"), Mapping) else {}
    is_member = pdu.get("type") == "m.room.member"
    sender_domain = _domain(pdu.get("sender"))
    if sender_domain is None:
        raise SignatureError(f"Invalid sender {pdu.get('sender')!r}")
    if not (is_member and content.get("membership") == "invite" and "third_party_invite" in content):
        servers.append(sender_domain)
    if rv.event_format == 1:
        event_domain = _domain(pdu.get("event_id"))
        if event_domain is None:
            raise SignatureError(f"Invalid event_id {pdu.get('event_id')!r}")
        if event_domain not in servers:
            servers.append(event_domain)
    if (rv.restricted_join_rule and is_member and content.get("membership") == "join"
            and "join_authorised_via_users_server" in content):
        authoriser = _domain(content["join_authorised_via_users_server"])
        if authoriser is None:
            raise SignatureError("Invalid join_authorised_via_users_server "
                                 f"{content['join_authorised_via_users_server']!r}")
        if authoriser not in servers:
            servers.append(authoriser)
    return servers


def check_server_signature(pdu: Mapping[str, Any], rv: RoomVersion, server_name: str,
                           key_lookup: KeyLookup, *, redacted: dict[str, Any] | None = None) -> None:
    """Raises SignatureError unless `pdu` carries a valid signature by `server_name` from a known
    (and, if `rv.enforce_key_validity`, unexpired at `origin_server_ts`) ed25519 key."""
    if redacted is None:
        redacted = prune_event_dict(rv, pdu)
    all_sigs = pdu.get("signatures")
    sigs = all_sigs.get(server_name) if isinstance(all_sigs, Mapping) else None
    if not isinstance(sigs, Mapping) or not sigs:
        raise SignatureError(f"Event is not signed by {server_name}", server_name=server_name)
    ts = pdu.get("origin_server_ts")
    verified = False
    for key_id in sorted(sigs):
        if not isinstance(key_id, str) or not key_id.startswith("ed25519:"):
            continue  # only ed25519 is defined; other algorithms are ignored
        found = key_lookup(server_name, key_id)
        if found is None:
            continue  # unknown keys are skipped
        verify_key, valid_until_ts = found
        if rv.enforce_key_validity and (not isinstance(ts, int) or valid_until_ts < ts):
            continue  # v5+: a key that expired before the event was sent does not count
        key = decode_verify_key_bytes(key_id, bytes(verify_key))
        try:
            verify_signed_json(redacted, server_name, key)
        except SignatureVerifyException as e:
            raise SignatureError(f"Invalid signature by {server_name} ({key_id}): {e}",
                                 server_name=server_name) from e
        verified = True
    if not verified:
        raise SignatureError(f"No signature by {server_name} from a known, valid key",
                             server_name=server_name)


def verify_event_signatures(pdu: Mapping[str, Any], rv: RoomVersion, key_lookup: KeyLookup) -> None:
    """Raises SignatureError unless every server of `required_signers` validly signed `pdu`.

    Works the same on the full event and on a redacted copy of it."""
    redacted = prune_event_dict(rv, pdu)
    for server_name in required_signers(pdu, rv):
        check_server_signature(pdu, rv, server_name, key_lookup, redacted=redacted)
