"""Helpers of the e2ee API tests: real ed25519 keys signed as a client signs them (signedjson)."""
from __future__ import annotations

import copy

from signedjson.key import encode_verify_key_base64, generate_signing_key, get_verify_key
from signedjson.sign import sign_json

API = "/_matrix/client/v3"


def new_key(version: str | None = None):
    """An ed25519 signing key whose key ID is `version` (default: its own public key, as cross-signing
    keys are named) and its public key."""
    key = generate_signing_key(version or "tmp")
    public = encode_verify_key_base64(get_verify_key(key))
    if version is None:
        key.version = public
    return key, public


def signed_device_keys(client, key=None) -> tuple[dict, object]:
    key = key or new_key(client.device_id)[0]
    public = encode_verify_key_base64(get_verify_key(key))
    dev = client.device_id
    body = {"user_id": client.user_id, "device_id": dev,
            "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
            "keys": {f"curve25519:{dev}": f"curve-{dev}-{public[:8]}", f"ed25519:{dev}": public}}
    return sign_json(body, client.user_id, key), key


def one_time_keys(client, key, n: int, start: int = 0, *, fallback: bool = False) -> dict:
    out = {}
    for i in range(start, start + n):
        obj = {"key": f"otk{i:04d}-{client.device_id}"}
        if fallback:
            obj["fallback"] = True
        out[f"signed_curve25519:K{i:04d}"] = sign_json(obj, client.user_id, key)
    return out


def login(client_factory, user, device_id: str | None = None):
    """A new device of `user`, logged in with the password the fixtures register with."""
    c = client_factory()
    body = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user.user_id},
            "password": "correct horse battery"}
    if device_id:
        body["device_id"] = device_id
    resp = c.post(f"{API}/login", body, token=None)
    assert resp.status_code == 200, resp.json_body
    data = resp.json_body
    c.token, c.user_id, c.device_id = data["access_token"], data["user_id"], data["device_id"]
    return c


def upload(client, body: dict, expect: int = 200):
    resp = client.post(f"{API}/keys/upload", body)
    assert resp.status_code == expect, resp.json_body
    return resp.json_body


def setup_device(client, n_otks: int = 0, fallback: bool = False):
    """Upload signed device keys (and one-time / fallback keys); returns the device's signing key."""
    keys, key = signed_device_keys(client)
    body: dict = {"device_keys": keys}
    if n_otks:
        body["one_time_keys"] = one_time_keys(client, key, n_otks)
    if fallback:
        body["fallback_keys"] = one_time_keys(client, key, 1, start=900, fallback=True)
    upload(client, body)
    return key


def query(client, users: dict) -> dict:
    resp = client.post(f"{API}/keys/query", {"device_keys": users})
    assert resp.status_code == 200, resp.json_body
    return resp.json_body


def claim(client, wanted: dict) -> dict:
    resp = client.post(f"{API}/keys/claim", {"one_time_keys": wanted})
    assert resp.status_code == 200, resp.json_body
    return resp.json_body


def cross_signing_keys(client):
    """(body for /keys/device_signing/upload, master, self-signing, user-signing signing keys)."""
    msk, mpub = new_key()
    ssk, spub = new_key()
    usk, upub = new_key()
    uid = client.user_id
    master = {"user_id": uid, "usage": ["master"], "keys": {f"ed25519:{mpub}": mpub}}
    self_signing = sign_json({"user_id": uid, "usage": ["self_signing"], "keys": {f"ed25519:{spub}": spub}}, uid, msk)
    user_signing = sign_json({"user_id": uid, "usage": ["user_signing"], "keys": {f"ed25519:{upub}": upub}}, uid, msk)
    body = {"master_key": master, "self_signing_key": self_signing, "user_signing_key": user_signing}
    return body, msk, ssk, usk


def resign(obj: dict, user_id: str, key) -> dict:
    """`obj` with a signature added by `key`, as a client uploads it to /keys/signatures/upload."""
    clean = {k: v for k, v in copy.deepcopy(obj).items() if k != "unsigned"}
    return sign_json(clean, user_id, key)
