"""Cross-signing (spec: client-server API, end-to-end encryption, "Cross-signing"; uploadCrossSigningKeys,
uploadCrossSigningSignatures).

Keys: a master key, a self-signing key and a user-signing key per user, each one ed25519 key with its
`usage`. The self-signing and user-signing keys must be signed by the master key (the one in the same
upload, else the stored one). A key's public part may not equal one of the user's device IDs (403), since
both name keys in `signatures` maps.

User-interactive auth (spec, uploadCrossSigningKeys since v1.11): required, except when the user has no
master key yet (first upload) or when every key in the request is exactly the stored one (a retried
upload whose response was lost). `needs_uia` answers that before the view runs UIA.

Signatures (`/keys/signatures/upload`), per target key, failures reported per key:
- one of the requester's devices, signed by their self-signing key;
- the requester's master key, signed by one of their devices;
- another local user's master key, signed by the requester's user-signing key (seen only by the
  requester in `/keys/query`).
The signed object must be the stored key apart from `signatures` and `unsigned`.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction

from apps.core.errors import Codes, MatrixError
from apps.core.ids import server_name_of

from . import device_lists, stores
from .handlers import verify_signature

KEY_TYPES = {"master_key": "master", "self_signing_key": "self_signing", "user_signing_key": "user_signing"}


def _parse_key(body_field: str, key: Any, user_id: str) -> tuple[str, dict, str]:
    """(key_type, key, public key) of one uploaded cross-signing key, or 400."""
    usage = KEY_TYPES[body_field]
    if not isinstance(key, dict):
        raise MatrixError(Codes.BAD_JSON, f"{body_field} must be an object", 400)
    if key.get("user_id") != user_id:
        raise MatrixError(Codes.INVALID_PARAM, f"{body_field}.user_id does not match the requester", 400)
    usages = key.get("usage")
    if not isinstance(usages, list) or usage not in usages:
        raise MatrixError(Codes.INVALID_PARAM, f"{body_field}.usage must contain {usage!r}", 400)
    keys = key.get("keys")
    if not isinstance(keys, dict) or len(keys) != 1:
        raise MatrixError(Codes.INVALID_PARAM, f"{body_field}.keys must hold exactly one key", 400)
    (key_id, public), = keys.items()
    if not isinstance(public, str) or not public or len(public) > 128 or key_id != f"ed25519:{public}":
        raise MatrixError(Codes.INVALID_PARAM, f"{body_field}.keys must be ed25519:<public key> -> <public key>",
                          400)
    sigs = key.get("signatures", {})
    if not isinstance(sigs, dict) or not all(isinstance(v, dict) for v in sigs.values()):
        raise MatrixError(Codes.BAD_JSON, f"{body_field}.signatures must be an object", 400)
    return usage, key, public


def parse_upload(requester, body: dict) -> dict[str, tuple[dict, str]]:
    """The keys of an upload: key_type -> (key, public key)."""
    out: dict[str, tuple[dict, str]] = {}
    for body_field in KEY_TYPES:
        if body.get(body_field) is not None:
            usage, key, public = _parse_key(body_field, body[body_field], requester.user_id)
            out[usage] = (key, public)
    return out


def needs_uia(requester, body: dict) -> bool:
    keys = parse_upload(requester, body)
    stored = stores.cross_signing_keys([requester.user_id]).get(requester.user_id, {})
    if "master" not in stored:
        return False
    return not keys or any(key_type not in stored or stores.canonical(stored[key_type]) != stores.canonical(key)
                           for key_type, (key, _) in keys.items())


def upload_keys(requester, body: dict) -> None:
    """POST /keys/device_signing/upload, once UIA (when needed) is done."""
    user_id = requester.user_id
    keys = parse_upload(requester, body)
    with transaction.atomic():
        stored = stores.cross_signing_keys([user_id]).get(user_id, {})
        if "master" in keys:
            master_public = keys["master"][1]
        elif "master" in stored:
            master_public = _public(stored["master"])
        else:
            raise MatrixError(Codes.MISSING_PARAM, "No master signing key is available", 400)
        device_ids = stores.user_device_ids(user_id)
        for key_type, (key, public) in keys.items():
            if public in device_ids:
                raise MatrixError(Codes.FORBIDDEN, "Key ID in use", 403)
            if key_type != "master" and not verify_signature(key, user_id, f"ed25519:{master_public}", master_public):
                raise MatrixError(Codes.INVALID_SIGNATURE, f"The {key_type} key is not signed by the master key", 400)
        changed = False
        for key_type, (key, public) in keys.items():
            if key_type in stored and stores.canonical(stored[key_type]) == stores.canonical(key):
                continue
            stores.set_cross_signing_key(user_id, key_type, public, key)
            changed = True
        if changed:
            device_lists.record_change(user_id, [None])


def _public(key: dict) -> str:
    return next(iter(key["keys"].values()))


# --- signatures ------------------------------------------------------------------------------------------

class _Failure(Exception):
    def __init__(self, errcode: str, error: str):
        super().__init__(error)
        self.body = {"errcode": errcode, "error": error}


def _strip(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}


def _same_object(uploaded: dict, stored: dict) -> None:
    if stores.canonical(_strip(uploaded)) != stores.canonical(_strip(stored)):
        raise _Failure(Codes.INVALID_PARAM, "The signed object does not match the stored key")


def _new_signatures(uploaded: dict, signer: str) -> dict[str, str]:
    sigs = uploaded.get("signatures")
    mine = sigs.get(signer) if isinstance(sigs, dict) else None
    if not isinstance(mine, dict) or not mine or not all(isinstance(v, str) for v in mine.values()):
        raise _Failure(Codes.MISSING_PARAM, f"No signatures by {signer}")
    return mine


def upload_signatures(requester, body: dict) -> dict:
    """POST /keys/signatures/upload: {"failures": {user_id: {key_id: error}}}."""
    me = requester.user_id
    for user_id, keys in body.items():
        if not isinstance(keys, dict) or not all(isinstance(v, dict) for v in keys.values()):
            raise MatrixError(Codes.BAD_JSON, "The body must map user IDs to key IDs to signed objects", 400)
    cross = stores.cross_signing_keys([me, *body]) if body else {}
    mine = cross.get(me, {})
    failures: dict[str, dict[str, Any]] = {}
    changed_own: list[str | None] = []
    changed_others: list[str] = []
    for user_id, keys in body.items():
        for key_id, signed in keys.items():
            try:
                with transaction.atomic():
                    if user_id == me:
                        changed_own.append(_sign_own(me, key_id, signed, mine))
                    else:
                        _sign_other(me, user_id, key_id, signed, mine, cross.get(user_id, {}))
                        changed_others.append(user_id)
            except _Failure as f:
                failures.setdefault(user_id, {})[key_id] = f.body
    if changed_own:
        device_lists.record_change(me, changed_own)
    for other in dict.fromkeys(changed_others):
        device_lists.record_change(other, [None], visible_to=me)
    return {"failures": failures}


def _sign_own(me: str, key_id: str, signed: dict, mine: dict[str, dict]) -> str | None:
    """A signature of one of my devices (by my self-signing key) or of my master key (by a device)."""
    master = mine.get("master")
    if master is not None and key_id == _public(master):
        _same_object(signed, master)
        sigs = _new_signatures(signed, me)
        stored = 0
        for sig_key_id, sig in sigs.items():
            algorithm, _, device_id = sig_key_id.partition(":")
            if algorithm != "ed25519" or device_id == key_id:
                continue  # the master key's own self-signature is part of the stored key
            device = stores.device_keys_json(me, device_id)
            public = (device or {}).get("keys", {}).get(sig_key_id)
            if not isinstance(public, str) or not verify_signature(signed, me, sig_key_id, public):
                raise _Failure(Codes.INVALID_SIGNATURE, f"Invalid signature by {sig_key_id}")
            stores.set_signature(me, sig_key_id, me, key_id, sig)
            stored += 1
        if not stored:
            raise _Failure(Codes.INVALID_SIGNATURE, "No signature by one of the user's devices")
        return None
    device = stores.device_keys_json(me, key_id)
    if device is None:
        raise _Failure(Codes.NOT_FOUND, f"Unknown key {key_id}")
    _same_object(signed, device)
    sigs = _new_signatures(signed, me)
    self_signing = mine.get("self_signing")
    if self_signing is None:
        raise _Failure(Codes.MISSING_PARAM, "No self-signing key has been uploaded")
    ssk = _public(self_signing)
    sig = sigs.get(f"ed25519:{ssk}")
    if sig is None or not verify_signature(signed, me, f"ed25519:{ssk}", ssk):
        raise _Failure(Codes.INVALID_SIGNATURE, "Not signed by the self-signing key")
    stores.set_signature(me, f"ed25519:{ssk}", me, key_id, sig)
    return key_id


def _sign_other(me: str, user_id: str, key_id: str, signed: dict, mine: dict[str, dict],
                theirs: dict[str, dict]) -> None:
    """My user-signing key's signature of another user's master key."""
    if server_name_of(user_id) != settings.HS.server_name:
        raise _Failure(Codes.UNKNOWN, "Signatures of remote users' keys are not supported")
    master = theirs.get("master")
    if master is None or key_id != _public(master):
        raise _Failure(Codes.NOT_FOUND, f"Unknown key {key_id}: only a user's master key can be signed")
    _same_object(signed, master)
    user_signing = mine.get("user_signing")
    if user_signing is None:
        raise _Failure(Codes.MISSING_PARAM, "No user-signing key has been uploaded")
    usk = _public(user_signing)
    sig = _new_signatures(signed, me).get(f"ed25519:{usk}")
    if sig is None or not verify_signature(signed, me, f"ed25519:{usk}", usk):
        raise _Failure(Codes.INVALID_SIGNATURE, "Not signed by the user-signing key")
    stores.set_signature(me, f"ed25519:{usk}", user_id, key_id, sig)
