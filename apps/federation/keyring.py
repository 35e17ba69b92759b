"""The keyring: other servers' verify keys, fetched, verified and cached.

Spec: server-server API, "Retrieving server keys"; definitions/keys.yaml (`valid_until_ts`: use the
lesser of it and 7 days into the future).

Lookup order for (server, key id): our own key (apps.federation.signing); the cache
(`RemoteServerKey`); then a fetch, at most once per `REFETCH_INTERVAL_S` per server (successful or
not, so a stream of requests signed with made-up key ids cannot make us hammer a server), from
  1. each of `trusted_key_servers` (`POST /_matrix/key/v2/query`; the answer must be signed by the
     notary with one of the keys configured for it, unless `accept_keys_insecurely`), then
  2. the server itself (`GET /_matrix/key/v2/server`).
Every response must be for the server asked about, self-signed by one of its own `verify_keys`, and
not expired (`valid_until_ts` in the past is refused). The cached validity is capped at 7 days after
the fetch. Keys in `old_verify_keys` are cached with their `expired_ts`; they verify events signed
before that time (`key_lookup`), never requests (`verify_key_bytes`); as the server retired them for
good, a cached old key is used as it is, without asking the server again. Our own keys are the one we
sign with and our `old_signing_keys` (the same rule: events signed before `expired_ts`).

The latest verified response of each server is kept as signed (`RemoteKeyResponse`) for our notary
endpoint, which serves it with our signature added (`notary_response`).

Public API: `verify_key_bytes` (for X-Matrix, apps.federation.transport_auth), `key_lookup` (the
`KeyLookup` of apps.rooms.event_signing), `get_verify_key`, `fetch_direct`, `fetch_from_notary`,
`notary_response`, `verify_key_response`, `KeyFetchError`.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Iterable

from canonicaljson import encode_canonical_json
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from nacl.signing import VerifyKey
from signedjson.key import decode_verify_key_bytes, encode_verify_key_base64
from signedjson.key import get_verify_key as public_key_of
from signedjson.sign import SignatureVerifyException, verify_signed_json
from unpaddedbase64 import decode_base64

from . import client, signing
from .models import RemoteKeyResponse, RemoteServerKey

logger = logging.getLogger(__name__)

MAX_VALIDITY_MS = 7 * 24 * 3600 * 1000
REFETCH_INTERVAL_S = 30


class KeyFetchError(Exception):
    pass


@dataclass(frozen=True)
class KeyInfo:
    key_bytes: bytes
    valid_until_ts: int
    is_old: bool = False

    def verify_key(self, key_id: str) -> VerifyKey:
        return decode_verify_key_bytes(key_id, self.key_bytes)


def now_ms() -> int:
    return int(time.time() * 1000)


# --- verification of a key response ----------------------------------------------------------------


def _decode_key(value: Any) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        raw = decode_base64(value)
    except Exception:
        return None
    return raw if len(raw) == 32 else None


def verify_key_response(resp: Any, server_name: str, now: int | None = None) -> dict[str, KeyInfo]:
    """The keys of a `/_matrix/key/v2/server`-shaped response, or KeyFetchError if it is not for
    `server_name`, not self-signed by one of its verify keys, or expired. Validity not yet capped."""
    now = now if now is not None else now_ms()
    if not isinstance(resp, dict):
        raise KeyFetchError("key response is not a JSON object")
    if resp.get("server_name") != server_name:
        raise KeyFetchError(f"key response is for {resp.get('server_name')!r}, not {server_name!r}")
    valid_until = resp.get("valid_until_ts")
    if isinstance(valid_until, bool) or not isinstance(valid_until, int):
        raise KeyFetchError("key response has no integer valid_until_ts")
    keys: dict[str, KeyInfo] = {}
    verify_keys = resp.get("verify_keys")
    if not isinstance(verify_keys, dict):
        raise KeyFetchError("key response has no verify_keys")
    for key_id, entry in verify_keys.items():
        raw = _decode_key(entry.get("key")) if isinstance(entry, dict) else None
        if isinstance(key_id, str) and key_id.startswith("ed25519:") and raw is not None:
            keys[key_id] = KeyInfo(raw, valid_until)
    if not keys:
        raise KeyFetchError("key response has no usable ed25519 verify key")
    sigs = resp.get("signatures")
    own = sigs.get(server_name) if isinstance(sigs, dict) else None
    verified = False
    for key_id in own if isinstance(own, dict) else ():
        if key_id in keys:
            try:
                verify_signed_json(resp, server_name, keys[key_id].verify_key(key_id))
            except SignatureVerifyException as e:
                raise KeyFetchError(f"bad self-signature by {key_id}: {e}") from e
            verified = True
            break
    if not verified:
        raise KeyFetchError("key response is not signed by any of its own verify keys")
    if valid_until < now:
        raise KeyFetchError(f"key response expired at {valid_until}")
    old = resp.get("old_verify_keys")
    for key_id, entry in (old.items() if isinstance(old, dict) else ()):
        if not isinstance(entry, dict) or key_id in keys or not str(key_id).startswith("ed25519:"):
            continue
        raw, expired = _decode_key(entry.get("key")), entry.get("expired_ts")
        if raw is not None and isinstance(expired, int) and not isinstance(expired, bool):
            keys[key_id] = KeyInfo(raw, expired, is_old=True)
    return keys


def _store(resp: dict, server_name: str, keys: dict[str, KeyInfo], from_server: str, fetched: int) -> None:
    own_sigs = {server_name: resp["signatures"][server_name]}
    stored = {**resp, "signatures": own_sigs}  # a notary's signature is not ours to serve again
    cap = fetched + MAX_VALIDITY_MS
    for attempt in range(2):
        try:
            with transaction.atomic():
                existing = RemoteKeyResponse.objects.select_for_update().filter(server_name=server_name).first()
                if existing is not None and existing.valid_until_ts > resp["valid_until_ts"]:
                    return  # an older response than the one we have (e.g. from a lagging notary)
                RemoteKeyResponse.objects.update_or_create(
                    server_name=server_name,
                    defaults={"response_json": encode_canonical_json(stored).decode(),
                              "valid_until_ts": resp["valid_until_ts"], "fetched_ts": fetched,
                              "from_server": from_server})
                for key_id, info in keys.items():
                    RemoteServerKey.objects.update_or_create(
                        server_name=server_name, key_id=key_id,
                        defaults={"verify_key": encode_verify_key_base64(info.verify_key(key_id)),
                                  "valid_until_ts": info.valid_until_ts if info.is_old else min(info.valid_until_ts, cap),
                                  "is_old": info.is_old, "fetched_ts": fetched, "from_server": from_server})
            return
        except IntegrityError:
            if attempt:
                raise


# --- fetching ----------------------------------------------------------------------------------------


def fetch_direct(server_name: str) -> dict[str, KeyInfo]:
    """GET /_matrix/key/v2/server from the server itself; verifies and caches the answer."""
    try:
        resp = client.get_json(server_name, "/_matrix/key/v2/server", signed=False)
    except client.FederationError as e:
        raise KeyFetchError(f"cannot fetch keys of {server_name}: {e}") from e
    fetched = now_ms()
    keys = verify_key_response(resp, server_name, fetched)
    _store(resp, server_name, keys, server_name, fetched)
    return keys


def fetch_from_notary(notary: Any, server_name: str, key_ids: Iterable[str] = (),
                      minimum_valid_until_ts: int | None = None) -> dict[str, KeyInfo]:
    """POST /_matrix/key/v2/query to one of `trusted_key_servers`; verifies and caches the answer."""
    min_valid = minimum_valid_until_ts if minimum_valid_until_ts is not None else now_ms()
    criteria = {key_id: {"minimum_valid_until_ts": min_valid} for key_id in key_ids}
    try:
        data = client.post_json(notary.server_name, "/_matrix/key/v2/query",
                                {"server_keys": {server_name: criteria}})
    except client.FederationError as e:
        raise KeyFetchError(f"notary {notary.server_name}: {e}") from e
    responses = data.get("server_keys") if isinstance(data, dict) else None
    if not isinstance(responses, list):
        raise KeyFetchError(f"notary {notary.server_name}: server_keys is not a list")
    found: dict[str, KeyInfo] = {}
    fetched = now_ms()
    for resp in responses:
        if not isinstance(resp, dict) or resp.get("server_name") != server_name:
            continue
        _check_notary_signature(notary, resp)
        keys = verify_key_response(resp, server_name, fetched)
        _store(resp, server_name, keys, notary.server_name, fetched)
        found.update(keys)
    return found


def _check_notary_signature(notary: Any, resp: dict) -> None:
    configured = dict(notary.verify_keys or {})
    if not configured:
        if notary.accept_keys_insecurely:
            return
        raise KeyFetchError(f"notary {notary.server_name} has no verify_keys configured")
    sigs = resp.get("signatures", {}).get(notary.server_name) if isinstance(resp.get("signatures"), dict) else None
    for key_id, b64 in configured.items():
        if isinstance(sigs, dict) and key_id in sigs:
            raw = _decode_key(b64)
            if raw is None:
                continue
            try:
                verify_signed_json(resp, notary.server_name, decode_verify_key_bytes(key_id, raw))
            except SignatureVerifyException as e:
                raise KeyFetchError(f"bad signature by notary {notary.server_name}: {e}") from e
            return
    raise KeyFetchError(f"response not signed by notary {notary.server_name} with a configured key")


def _refetch_allowed(server_name: str) -> bool:
    # cache.add is atomic: one fetch per interval per server, across processes.
    return cache.add(f"hs:federation:keyfetch:{server_name}", 1, REFETCH_INTERVAL_S)


def refresh(server_name: str, key_ids: Iterable[str] = (), minimum_valid_until_ts: int | None = None, *,
            allow_old: bool = False) -> bool:
    """Fetches keys of `server_name` (notaries, then the server); True if something was cached. A
    notary's answer is enough when it holds every key asked for (an old key too, with `allow_old`)."""
    key_ids = list(key_ids)
    ok = False
    for notary in getattr(settings.HS, "trusted_key_servers", ()) or ():
        if notary.server_name == settings.HS.server_name:
            continue
        try:
            keys = fetch_from_notary(notary, server_name, key_ids, minimum_valid_until_ts)
        except KeyFetchError as e:
            logger.info("Key fetch of %s through %s failed: %s", server_name, notary.server_name, e)
            continue
        ok = ok or bool(keys)
        if key_ids and all(k in keys and (allow_old or not keys[k].is_old) for k in key_ids):
            return True
    try:
        fetch_direct(server_name)
        return True
    except KeyFetchError as e:
        logger.info("Key fetch of %s failed: %s", server_name, e)
    return ok


# --- lookups -----------------------------------------------------------------------------------------


def _own_key(key_id: str) -> KeyInfo | None:
    """Our signing key (valid as long as we publish it), or one of our `old_signing_keys` (valid until
    its `expired_ts`, for events only: what we signed before a rotation, coming back over federation)."""
    key = signing.signing_key()
    if signing.key_id(key) == key_id:
        return KeyInfo(bytes(public_key_of(key)), signing.valid_until_ts(now_ms()))
    for old in settings.HS.old_signing_keys:
        raw = _decode_key(old.key) if old.key_id == key_id else None
        if raw is not None:
            return KeyInfo(raw, old.expired_ts, is_old=True)
    return None


def cached_key(server_name: str, key_id: str) -> KeyInfo | None:
    row = RemoteServerKey.objects.filter(server_name=server_name, key_id=key_id).first()
    if row is None:
        return None
    raw = _decode_key(row.verify_key)
    return KeyInfo(raw, row.valid_until_ts, row.is_old) if raw is not None else None


def get_verify_key(server_name: str, key_id: str, minimum_valid_until_ts: int | None = None, *,
                   allow_old: bool = False) -> KeyInfo | None:
    """The key valid until at least `minimum_valid_until_ts` (default now), fetching if needed.

    With `allow_old`, a key the server lists in `old_verify_keys` is returned as cached whatever its
    `expired_ts`: the server retired it for good, so asking again cannot make it valid for longer, and
    the caller compares the expiry with when the signature was made."""
    if server_name == settings.HS.server_name:
        info = _own_key(key_id)
        return info if info is not None and (allow_old or not info.is_old) else None
    min_valid = minimum_valid_until_ts if minimum_valid_until_ts is not None else now_ms()

    def usable(info: KeyInfo | None) -> bool:
        if info is None or (info.is_old and not allow_old):
            return False
        return info.is_old or info.valid_until_ts >= min_valid

    info = cached_key(server_name, key_id)
    if usable(info):
        return info
    if _refetch_allowed(server_name):
        refresh(server_name, [key_id], min_valid, allow_old=allow_old)
        info = cached_key(server_name, key_id)
        if usable(info):
            return info
    return None


def verify_key_bytes(server_name: str, key_id: str, minimum_valid_until_ts: int) -> bytes | None:
    """For X-Matrix verification: a current (not old) key valid at `minimum_valid_until_ts`."""
    info = get_verify_key(server_name, key_id, minimum_valid_until_ts)
    return info.key_bytes if info else None


def key_lookup(server_name: str, key_id: str) -> tuple[VerifyKey, int] | None:
    """apps.rooms.event_signing.KeyLookup: the key and its (capped) valid_until_ts, old keys included.

    A key cached but no longer valid is refreshed if possible; if not, the cached validity is
    returned, and the caller decides (an event older than the expiry still verifies)."""
    info = get_verify_key(server_name, key_id, allow_old=True)
    if info is None and server_name != settings.HS.server_name:
        info = cached_key(server_name, key_id)
    if info is None:
        return None
    return info.verify_key(key_id), info.valid_until_ts


# --- notary ------------------------------------------------------------------------------------------


def notary_response(server_name: str, key_ids: Iterable[str] = (),
                    minimum_valid_until_ts: int | None = None) -> dict | None:
    """The self-signed key response of a remote server for our notary endpoint (not yet signed by
    us): from the cache if valid until `minimum_valid_until_ts` (default now) and holding the asked
    key ids, else fetched from the server; a stale cached response if the server is unreachable;
    None if we have nothing."""
    min_valid = minimum_valid_until_ts if minimum_valid_until_ts is not None else now_ms()
    key_ids = list(key_ids)

    def load() -> tuple[dict | None, int | None]:
        row = RemoteKeyResponse.objects.filter(server_name=server_name).first()
        return (json.loads(row.response_json), row.valid_until_ts) if row else (None, None)

    resp, valid_until = load()
    if resp is not None and valid_until >= min_valid and all(
            k in resp.get("verify_keys", {}) or k in resp.get("old_verify_keys", {}) for k in key_ids):
        return resp
    if _refetch_allowed(server_name):
        try:
            fetch_direct(server_name)
        except KeyFetchError as e:
            logger.info("Notary: key fetch of %s failed: %s", server_name, e)
        resp, _ = load()
    return resp
