"""Server-side key backups (spec: client-server API, end-to-end encryption, "Server-side key backups";
key_backup.yaml).

Versions are numbered per user from 1; keys may only be written to the current version (the latest not
deleted): writing another is 403 M_WRONG_ROOM_KEYS_VERSION with `current_version`. Reads and deletes work
on any existing version. The `etag` of a version changes whenever its keys change.

A key uploaded for a session the backup already holds replaces it only if it is better (spec): verified
beats unverified; then the lower `first_message_index`; then the lower `forwarded_count`; a tie keeps
the stored key.
"""
from __future__ import annotations

import json
from typing import Any

from django.db import transaction

from apps.core.errors import Codes, MatrixError

from . import stores
from .models import RoomKey, RoomKeysVersion

ALGORITHMS = ("m.megolm_backup.v1.curve25519-aes-sha2",)


def _not_found(msg: str = "Unknown backup version") -> MatrixError:
    return MatrixError(Codes.NOT_FOUND, msg, 404)


def _parse_version(raw: Any) -> int | None:
    if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= 18:
        return int(raw)
    return None


def _version_json(row: RoomKeysVersion) -> dict:
    return {"algorithm": row.algorithm, "auth_data": json.loads(row.auth_data),
            "count": stores.count_room_keys(row.user_id, row.version), "etag": str(row.etag),
            "version": str(row.version)}


def _check_algorithm(algorithm: Any, auth_data: Any) -> None:
    if not isinstance(algorithm, str):
        raise MatrixError(Codes.MISSING_PARAM if algorithm is None else Codes.BAD_JSON,
                          "algorithm must be a string", 400)
    if not isinstance(auth_data, dict):
        raise MatrixError(Codes.MISSING_PARAM if auth_data is None else Codes.BAD_JSON,
                          "auth_data must be an object", 400)


# --- versions --------------------------------------------------------------------------------------------

def create_version(requester, body: dict) -> dict:
    """POST /room_keys/version."""
    algorithm, auth_data = body.get("algorithm"), body.get("auth_data")
    _check_algorithm(algorithm, auth_data)
    if algorithm not in ALGORITHMS:
        raise MatrixError(Codes.INVALID_PARAM, f"Unsupported backup algorithm {algorithm}", 400)
    return {"version": str(stores.create_backup_version(requester.user_id, algorithm, auth_data))}


def get_version(requester, version: str | None) -> dict:
    """GET /room_keys/version (current) and /room_keys/version/{version}."""
    if version is None:
        row = stores.current_backup_version(requester.user_id)
        if row is None:
            raise _not_found("No current backup version")
    else:
        number = _parse_version(version)
        row = stores.backup_version(requester.user_id, number) if number is not None else None
        if row is None or row.deleted:
            raise _not_found()
    return _version_json(row)


def update_version(requester, version: str, body: dict) -> dict:
    """PUT /room_keys/version/{version}: only `auth_data` may change."""
    algorithm, auth_data = body.get("algorithm"), body.get("auth_data")
    _check_algorithm(algorithm, auth_data)
    if "version" in body and body["version"] != version:
        raise MatrixError(Codes.INVALID_PARAM, "The version in the body does not match the path", 400)
    number = _parse_version(version)
    row = stores.backup_version(requester.user_id, number) if number is not None else None
    if row is None or row.deleted:
        raise _not_found()
    if algorithm != row.algorithm:
        raise MatrixError(Codes.INVALID_PARAM, "Algorithm does not match", 400)
    stores.update_backup_auth_data(requester.user_id, row.version, auth_data)
    return {}


def delete_version(requester, version: str) -> dict:
    """DELETE /room_keys/version/{version}: the version and its keys; deleting it again succeeds."""
    number = _parse_version(version)
    row = stores.backup_version(requester.user_id, number) if number is not None else None
    if row is None:
        raise _not_found()
    if not row.deleted:
        stores.delete_backup_version(requester.user_id, row.version)
    return {}


# --- keys ------------------------------------------------------------------------------------------------

def _readable_version(requester, version: str | None) -> int:
    if version is None:
        raise MatrixError(Codes.MISSING_PARAM, "Missing version query parameter", 400)
    number = _parse_version(version)
    row = stores.backup_version(requester.user_id, number) if number is not None else None
    if row is None or row.deleted:
        raise _not_found()
    return row.version


def _writable_version(requester, version: str | None) -> RoomKeysVersion:
    if version is None:
        raise MatrixError(Codes.MISSING_PARAM, "Missing version query parameter", 400)
    current = stores.current_backup_version(requester.user_id)
    if current is None:
        raise _not_found()
    if _parse_version(version) != current.version:
        raise MatrixError(Codes.WRONG_ROOM_KEYS_VERSION, "Wrong backup version", 403,
                          current_version=str(current.version))
    return current


def _key_data(raw: Any, where: str) -> dict:
    if not isinstance(raw, dict):
        raise MatrixError(Codes.BAD_JSON, f"{where} must be a KeyBackupData object", 400)
    for name, kind in (("first_message_index", int), ("forwarded_count", int), ("is_verified", bool),
                       ("session_data", dict)):
        value = raw.get(name)
        if value is None:
            raise MatrixError(Codes.MISSING_PARAM, f"{where}.{name} is required", 400)
        if not isinstance(value, kind) or (kind is int and (isinstance(value, bool) or value < 0 or value >= 2 ** 63)):
            raise MatrixError(Codes.BAD_JSON, f"{where}.{name} has the wrong type", 400)
    return raw


MAX_ID_LENGTH = 255


def _check_ids(room_id: str, session_id: str) -> tuple[str, str]:
    if not room_id or not session_id or len(room_id) > MAX_ID_LENGTH or len(session_id) > MAX_ID_LENGTH:
        raise MatrixError(Codes.INVALID_PARAM, f"Room and session IDs must be 1 to {MAX_ID_LENGTH} characters", 400)
    return room_id, session_id


def _sessions(raw: Any, room_id: str) -> dict[tuple[str, str], dict]:
    if not isinstance(raw, dict) or not isinstance(raw.get("sessions"), dict):
        raise MatrixError(Codes.BAD_JSON, f"Room {room_id} must have a sessions object", 400)
    return {_check_ids(room_id, s): _key_data(d, f"sessions.{s}") for s, d in raw["sessions"].items()}


def parse_upload(body: dict, room_id: str | None, session_id: str | None) -> dict[tuple[str, str], dict]:
    """The keys of a PUT at any of the three levels: (room_id, session_id) -> KeyBackupData."""
    if room_id is not None and session_id is not None:
        return {_check_ids(room_id, session_id): _key_data(body, "body")}
    if room_id is not None:
        return _sessions(body, room_id)
    rooms = body.get("rooms")
    if not isinstance(rooms, dict):
        raise MatrixError(Codes.MISSING_PARAM if rooms is None else Codes.BAD_JSON, "rooms must be an object", 400)
    out: dict[tuple[str, str], dict] = {}
    for r, data in rooms.items():
        out.update(_sessions(data, r))
    return out


def better(new: dict, old: RoomKey) -> bool:
    """Whether `new` replaces the stored key `old` (spec, "Server-side key backups")."""
    if new["is_verified"] != old.is_verified:
        return bool(new["is_verified"])
    if new["first_message_index"] != old.first_message_index:
        return new["first_message_index"] < old.first_message_index
    return new["forwarded_count"] < old.forwarded_count


def put_keys(requester, version: str | None, body: dict, room_id: str | None = None,
             session_id: str | None = None) -> dict:
    """PUT /room_keys/keys[/{roomId}[/{sessionId}]]: {"count", "etag"} of the version afterwards."""
    keys = parse_upload(body, room_id, session_id)
    user_id = requester.user_id
    with transaction.atomic():
        current = _writable_version(requester, version)
        existing = stores.existing_room_keys(user_id, current.version, keys)
        new: list[RoomKey] = []
        replace: list[RoomKey] = []
        for (r, s), data in keys.items():
            fields = {"first_message_index": data["first_message_index"], "forwarded_count": data["forwarded_count"],
                      "is_verified": data["is_verified"], "session_data": stores.canonical(data["session_data"])}
            old = existing.get((r, s))
            if old is None:
                new.append(RoomKey(user_id=user_id, version=current.version, room_id=r, session_id=s, **fields))
            elif better(data, old):
                for k, v in fields.items():
                    setattr(old, k, v)
                replace.append(old)
        stores.save_room_keys(user_id, current.version, new, replace)
        if new or replace:
            stores.bump_etag(user_id, current.version)
        row = stores.backup_version(user_id, current.version)
    return {"count": stores.count_room_keys(user_id, current.version), "etag": str(row.etag)}


def _key_json(row: RoomKey) -> dict:
    return {"first_message_index": row.first_message_index, "forwarded_count": row.forwarded_count,
            "is_verified": row.is_verified, "session_data": json.loads(row.session_data)}


def get_keys(requester, version: str | None, room_id: str | None = None, session_id: str | None = None) -> dict:
    """GET at the three levels; an unknown session is 404, an empty room or backup is empty."""
    number = _readable_version(requester, version)
    rows = stores.room_keys(requester.user_id, number, room_id, session_id)
    if session_id is not None:
        if not rows:
            raise _not_found("No room key found for this session")
        return _key_json(rows[0])
    if room_id is not None:
        return {"sessions": {r.session_id: _key_json(r) for r in rows}}
    rooms: dict[str, dict] = {}
    for r in rows:
        rooms.setdefault(r.room_id, {"sessions": {}})["sessions"][r.session_id] = _key_json(r)
    return {"rooms": rooms}


def delete_keys(requester, version: str | None, room_id: str | None = None, session_id: str | None = None) -> dict:
    """DELETE at the three levels: {"count", "etag"} of the version afterwards."""
    user_id = requester.user_id
    with transaction.atomic():
        number = _readable_version(requester, version)
        if stores.delete_room_keys(user_id, number, room_id, session_id):
            stores.bump_etag(user_id, number)
        row = stores.backup_version(user_id, number)
    return {"count": stores.count_room_keys(user_id, number), "etag": str(row.etag)}
