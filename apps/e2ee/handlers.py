"""Device keys, one-time and fallback keys (spec: client-server API, end-to-end encryption, "Key management
API": uploadKeys, queryKeys, claimKeys, getKeysChanges).

- Upload: the device keys must name the requester's user and device, list algorithms, carry the
  device's own ed25519 key under `ed25519:<device_id>` and be signed by it. Once a device has identity
  keys they cannot be changed (a new upload may only change their signatures), as Synapse does
  (element-hq/synapse#18511): clients that see a device's key change treat it as an attack. A one-time
  key already uploaded under the same ID must be the same key.
- Query and claim serve local users from the database and ask the servers of remote users over
  federation (`apps.federation.queries`, through the cache of `remote_devices` for queries); a server
  that cannot answer is listed under `failures`.
- Other servers ask about local users with the same functions (server-server API, "End-to-End
  Encryption": `/user/keys/query`, `/user/keys/claim`; "Device Management": `/user/devices`), for local
  users only, seeing what a local user who is not the owner sees.
- Claim hands out one-time keys in upload order, each at most once (`stores.claim_one_time_key`), and
  the fallback key when none is left (marked used, which the device sees in `/sync`).
"""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from signedjson.key import decode_verify_key_base64
from signedjson.sign import SignatureVerifyException, verify_signed_json

from apps.core.errors import Codes, MatrixError
from apps.core.ids import server_name_of
from apps.streams.tokens import StreamToken

from . import device_lists, stores

MAX_ONE_TIME_KEYS_PER_UPLOAD = 1000


def _invalid(msg: str) -> MatrixError:
    return MatrixError(Codes.INVALID_PARAM, msg, 400)


def _bad_json(msg: str) -> MatrixError:
    return MatrixError(Codes.BAD_JSON, msg, 400)


def _is_local(user_id: str) -> bool:
    return server_name_of(user_id) == settings.HS.server_name


def check_user_id(user_id: Any) -> str:
    if not isinstance(user_id, str) or not user_id.startswith("@") or ":" not in user_id or len(user_id) > 255:
        raise _invalid(f"Invalid user ID: {user_id!r}")
    return user_id


def verify_signature(obj: dict, signer: str, key_id: str, public_key: str) -> bool:
    """Whether `obj` carries a valid signature by `signer`'s ed25519 key `key_id` (`ed25519:<id>`)."""
    algorithm, _, version = key_id.partition(":")
    if algorithm != "ed25519" or not version:
        return False
    try:
        verify_key = decode_verify_key_base64(algorithm, version, public_key)
        verify_signed_json(obj, signer, verify_key)
    except (SignatureVerifyException, ValueError, TypeError, KeyError, AttributeError):
        return False
    except Exception:  # noqa: BLE001 - a malformed key or signature is a failed verification, never a 500
        return False
    return True


# --- upload ----------------------------------------------------------------------------------------------

def _validate_device_keys(keys: Any, user_id: str, device_id: str) -> dict:
    if not isinstance(keys, dict):
        raise _bad_json("device_keys must be an object")
    if keys.get("user_id") != user_id:
        raise _invalid("device_keys.user_id does not match the requester")
    if keys.get("device_id") != device_id:
        raise _invalid("device_keys.device_id does not match the requester's device")
    algorithms = keys.get("algorithms")
    if not isinstance(algorithms, list) or not all(isinstance(a, str) for a in algorithms):
        raise _bad_json("device_keys.algorithms must be a list of strings")
    key_map = keys.get("keys")
    if not isinstance(key_map, dict) or not all(isinstance(k, str) and isinstance(v, str) and ":" in k
                                                for k, v in key_map.items()):
        raise _bad_json("device_keys.keys must map <algorithm>:<device_id> to keys")
    signatures = keys.get("signatures")
    if not isinstance(signatures, dict) or not all(isinstance(v, dict) for v in signatures.values()):
        raise _bad_json("device_keys.signatures must be an object")
    own_key_id = f"ed25519:{device_id}"
    public = key_map.get(own_key_id)
    if public is None:
        raise _invalid(f"device_keys.keys has no {own_key_id} key")
    # Spec (device_keys.yaml): "signatures: ... The device must sign itself with its ed25519 key."
    if not verify_signature(keys, user_id, own_key_id, public):
        raise _invalid("device_keys are not signed by the device's ed25519 key")
    return keys


def _split_key_id(full: Any, what: str) -> tuple[str, str]:
    if not isinstance(full, str) or ":" not in full:
        raise _invalid(f"{what} key IDs must be <algorithm>:<key_id>")
    algorithm, _, key_id = full.partition(":")
    if not algorithm or not key_id or len(algorithm) > 255 or len(key_id) > 255:
        raise _invalid(f"Invalid {what} key ID {full!r}")
    return algorithm, key_id


def _validate_key_map(keys: Any, what: str) -> list[tuple[str, str, Any]]:
    if not isinstance(keys, dict):
        raise _bad_json(f"{what} must be an object")
    out = []
    for full, key in keys.items():
        algorithm, key_id = _split_key_id(full, what)
        if not isinstance(key, (dict, str)):
            raise _bad_json(f"{what} {full!r} must be a key object or a string")
        out.append((algorithm, key_id, key))
    return out


def upload_keys(requester, body: dict) -> dict:
    """POST /keys/upload."""
    user_id, device_id = requester.user_id, requester.device_id
    if device_id is None:
        raise _invalid("Keys can only be uploaded with an access token of a device")
    device_keys = body.get("device_keys")
    if "device_keys" in body:
        device_keys = _validate_device_keys(device_keys, user_id, device_id)
    one_time = _validate_key_map(body["one_time_keys"], "one_time_keys") \
        if body.get("one_time_keys") is not None else []
    if len(one_time) > MAX_ONE_TIME_KEYS_PER_UPLOAD:
        raise MatrixError(Codes.TOO_LARGE, f"At most {MAX_ONE_TIME_KEYS_PER_UPLOAD} one-time keys per upload", 400)
    fallback = _validate_key_map(body["fallback_keys"], "fallback_keys") \
        if body.get("fallback_keys") is not None else []
    algorithms = [a for a, _, _ in fallback]
    if len(set(algorithms)) != len(algorithms):
        raise _invalid("At most one fallback key per algorithm")

    with transaction.atomic():
        if device_keys is not None:
            _store_device_keys(user_id, device_id, device_keys)
        if one_time:
            existing = stores.existing_one_time_keys(user_id, device_id, [(a, k) for a, k, _ in one_time])
            for algorithm, key_id, key in one_time:
                old = existing.get((algorithm, key_id))
                if old is not None and old != stores.canonical(key):
                    raise _invalid(f"One-time key {algorithm}:{key_id} already exists with a different value")
            stores.add_one_time_keys(user_id, device_id,
                                     [t for t in one_time if (t[0], t[1]) not in existing])
        for algorithm, key_id, key in fallback:
            stores.set_fallback_key(user_id, device_id, algorithm, key_id, key)
    return {"one_time_key_counts": device_lists.one_time_key_counts(user_id, device_id)}


def _store_device_keys(user_id: str, device_id: str, keys: dict) -> None:
    old = stores.device_keys_json(user_id, device_id)
    if old is not None:
        if stores.canonical(old) == stores.canonical(keys):
            return
        if old.get("keys") != keys.get("keys"):
            raise _invalid("This device already has different identity keys; log in as a new device instead")
    stores.set_device_keys(user_id, device_id, keys)
    device_lists.record_change(user_id, [device_id])


# --- query -----------------------------------------------------------------------------------------------

def _merge_signatures(obj: dict, sigs: list[tuple[str, str, str]]) -> dict:
    if not sigs:
        return obj
    out = dict(obj)
    merged = {u: dict(v) for u, v in (obj.get("signatures") or {}).items() if isinstance(v, dict)}
    for signer, key_id, sig in sigs:
        merged.setdefault(signer, {})[key_id] = sig
    out["signatures"] = merged
    return out


def _parse_device_query(body: dict) -> dict[str, list[str]]:
    """`device_keys` of a key query (client or federation): user ID -> device IDs (empty: all)."""
    wanted = body.get("device_keys")
    if not isinstance(wanted, dict):
        raise MatrixError(Codes.MISSING_PARAM if wanted is None else Codes.BAD_JSON,
                          "device_keys must be an object of user ID to device IDs", 400)
    for user_id, devices in wanted.items():
        check_user_id(user_id)
        if not isinstance(devices, list) or not all(isinstance(d, str) for d in devices):
            raise _bad_json("device_keys values must be lists of device IDs")
    return wanted


def query_keys(requester, body: dict) -> dict:
    """POST /keys/query."""
    wanted = _parse_device_query(body)
    local = {u: d for u, d in wanted.items() if _is_local(u)}
    remote = {u: d for u, d in wanted.items() if not _is_local(u)}
    result: dict[str, Any] = {**local_keys(local, viewer=requester.user_id), "failures": {}}
    if remote:
        from .remote_devices import query_remote_keys

        fetched = query_remote_keys(remote)
        for section in ("device_keys", "master_keys", "self_signing_keys", "failures"):
            result[section].update(fetched[section])
    return result


def local_keys(local: dict[str, list[str]], *, viewer: str | None) -> dict[str, Any]:
    """The device and cross-signing keys of local users (`{user_id: [device_id]}`, empty list: every
    device), as `/keys/query` answers them: {device_keys, master_keys, self_signing_keys}, plus
    `user_signing_keys` when the viewer is among the users. `viewer` is the local user asking (None for
    another server): it also sees its own user-signing signatures of others' master keys."""
    keys = stores.device_keys_of_users(local)
    # Only devices that exist: a device's keys are deleted with it, and this keeps an upload racing the
    # deletion from showing a device that is gone.
    names = stores.devices_of_users(local)
    cross = stores.cross_signing_keys(local)
    master_pubs = {u: _public_key(k["master"]) for u, k in cross.items() if "master" in k}
    # Signatures others see: the owner's (self-signing of devices, devices of the master key); and the
    # viewer's own user-signing signatures of others' master keys, which only they see.
    signers = {*local, viewer} if viewer is not None else set(local)
    sigs = stores.signatures_of(local, signers)

    device_keys: dict[str, dict[str, dict]] = {}
    for user_id, devices in local.items():
        found = keys.get(user_id, {})
        picked = {d: k for d, k in found.items() if (user_id, d) in names and (not devices or d in devices)}
        out = {}
        for d, k in picked.items():
            own = [s for s in sigs.get((user_id, d), []) if s[0] == user_id]
            k = _merge_signatures(k, own)
            unsigned = dict(k.get("unsigned") or {})
            name = names.get((user_id, d))
            if name is not None:
                unsigned["device_display_name"] = name
            out[d] = {**k, "unsigned": unsigned} if unsigned else {kk: v for kk, v in k.items() if kk != "unsigned"}
        device_keys[user_id] = out

    result: dict[str, Any] = {"device_keys": device_keys, "master_keys": {}, "self_signing_keys": {}}
    for user_id, types in cross.items():
        if "master" in types:
            visible = [s for s in sigs.get((user_id, master_pubs[user_id]), []) if s[0] in (user_id, viewer)]
            result["master_keys"][user_id] = _merge_signatures(types["master"], visible)
        if "self_signing" in types:
            result["self_signing_keys"][user_id] = types["self_signing"]
        if user_id == viewer and "user_signing" in types:
            result["user_signing_keys"] = {viewer: types["user_signing"]}
    return result


def _public_key(key: dict) -> str:
    return next(iter(key["keys"].values()))


# --- claim -----------------------------------------------------------------------------------------------

def _parse_claim(body: dict) -> dict[str, dict[str, str]]:
    """`one_time_keys` of a claim (client or federation): user ID -> device ID -> algorithm."""
    wanted = body.get("one_time_keys")
    if not isinstance(wanted, dict):
        raise MatrixError(Codes.MISSING_PARAM if wanted is None else Codes.BAD_JSON,
                          "one_time_keys must be an object of user ID to device ID to algorithm", 400)
    for user_id, devices in wanted.items():
        check_user_id(user_id)
        if not isinstance(devices, dict) or not all(isinstance(a, str) for a in devices.values()):
            raise _bad_json("one_time_keys values must map device IDs to algorithms")
    return wanted


def claim_keys(requester, body: dict) -> dict:
    """POST /keys/claim."""
    wanted = _parse_claim(body)
    claimed = claim_local_keys({u: d for u, d in wanted.items() if _is_local(u)})
    failures: dict[str, Any] = {}
    remote = {u: d for u, d in wanted.items() if not _is_local(u)}
    if remote:
        from apps.federation.queries import claim_one_time_keys

        fetched = claim_one_time_keys(remote)
        claimed.update(fetched["one_time_keys"])
        failures.update(fetched["failures"])
    return {"one_time_keys": claimed, "failures": failures}


def claim_local_keys(wanted: dict[str, dict[str, str]]) -> dict[str, dict[str, dict]]:
    """One key per (local user, device, algorithm): {user_id: {device_id: {"<algorithm>:<key_id>": key}}};
    devices with no key left are absent."""
    claimed: dict[str, dict[str, dict]] = {}
    for user_id, devices in wanted.items():
        for device_id, algorithm in devices.items():
            with transaction.atomic():
                got = stores.claim_one_time_key(user_id, device_id, algorithm)
            if got is not None:
                key_id, key = got
                claimed.setdefault(user_id, {}).setdefault(device_id, {})[key_id] = key
    return claimed


# --- federation: other servers asking about our users -----------------------------------------------------

def _only_local(user_ids) -> None:
    """Spec (server-server API, user_keys, user_devices): "Requested users must be local to the receiving
    homeserver"; a server asking about another server's users is refused rather than half-answered."""
    for user_id in user_ids:
        if not _is_local(user_id):
            raise _invalid(f"{user_id} is not a user of this server")


def federation_query_keys(body: dict) -> dict:
    """POST /_matrix/federation/v1/user/keys/query: as a local /keys/query without a viewer (another
    server sees the owners' signatures only, and no user-signing key)."""
    wanted = _parse_device_query(body)
    _only_local(wanted)
    return local_keys(wanted, viewer=None)


def federation_claim_keys(body: dict) -> dict:
    """POST /_matrix/federation/v1/user/keys/claim."""
    wanted = _parse_claim(body)
    _only_local(wanted)
    return {"one_time_keys": claim_local_keys(wanted)}


def _without_unsigned(keys: dict) -> dict:
    return {k: v for k, v in keys.items() if k != "unsigned"}


def user_devices(user_id: str) -> dict:
    """GET /_matrix/federation/v1/user/devices/{userId}: every device of a local user (with its keys once
    uploaded, and its display name), the user's cross-signing keys, and the `stream_id` of the user's
    last `m.device_list_update` (apps.e2ee.federation_updates), which the asking server correlates with
    the EDUs that follow. An unknown user has no devices (as Synapse answers)."""
    check_user_id(user_id)
    _only_local([user_id])
    # Read first: a change made while the rest is read comes with a later stream_id, whose EDU the other
    # server then applies on top of this answer.
    stream_id = stores.last_device_update_id(user_id)
    keys = local_keys({user_id: []}, viewer=None)
    mine = keys["device_keys"].get(user_id, {})
    devices = []
    for (_, device_id), name in sorted(stores.devices_of_users([user_id]).items()):
        entry: dict[str, Any] = {"device_id": device_id}
        if device_id in mine:
            entry["keys"] = _without_unsigned(mine[device_id])
        if name:
            entry["device_display_name"] = name
        devices.append(entry)
    result: dict[str, Any] = {"user_id": user_id, "stream_id": stream_id, "devices": devices}
    if user_id in keys["master_keys"]:
        result["master_key"] = keys["master_keys"][user_id]
    if user_id in keys["self_signing_keys"]:
        result["self_signing_key"] = keys["self_signing_keys"][user_id]
    return result


# --- changes ---------------------------------------------------------------------------------------------

def key_changes(requester, from_token: str, to_token: str) -> dict:
    """GET /keys/changes: who changed between two sync tokens (the same rules as `/sync`'s device_lists)."""
    since = StreamToken.parse(from_token)
    until = StreamToken.parse(to_token)
    changed, left = device_lists.changes_between(requester.user_id, since, until)
    return {"changed": changed, "left": left}
