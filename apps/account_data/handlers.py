"""The Matrix rules of account data, room tags and the ignored-users list.

    GET/PUT /user/{userId}/account_data/{type}                      getAccountData / setAccountData
    GET/PUT /user/{userId}/rooms/{roomId}/account_data/{type}       getAccountDataPerRoom / setAccountDataPerRoom
    GET     /user/{userId}/rooms/{roomId}/tags                      getRoomTags
    PUT/DELETE /user/{userId}/rooms/{roomId}/tags/{tag}             setRoomTag / deleteRoomTag

Only the user's own data (403 M_FORBIDDEN otherwise). Types the server manages (`m.fully_read`,
`m.push_rules`) are refused with 405 M_BAD_JSON, globally and per room (spec: "Client Config", Server
Behaviour); the server itself writes them with `write_server_account_data` (read markers use it).
Tags are the room account data `m.tag`, `{"tags": {tag: {"order": 0..1, ...}}}`.
"""
from __future__ import annotations

import math
from typing import Any

from apps.core.errors import Codes, MatrixError
from apps.core.ids import UserID

from . import stores

# Spec, "Client Config" (Server Behaviour): set only by the server (m.fully_read through /read_markers,
# m.push_rules through the push rules API).
SERVER_MANAGED_TYPES = ("m.fully_read", "m.push_rules")
TAG_EVENT_TYPE = "m.tag"
MAX_TAG_BYTES = 255  # spec, "Room Tagging": "The name of a tag MUST NOT exceed 255 bytes."
MAX_ROOM_ID_BYTES = 255
MAX_TYPE_BYTES = 255


def _own(requester, user_id: str) -> None:
    if user_id != requester.user_id:
        raise MatrixError(Codes.FORBIDDEN, "Cannot access the account data of other users", 403)


def check_room_id(room_id: str) -> str:
    if not room_id.startswith("!") or len(room_id) < 2 or len(room_id.encode()) > MAX_ROOM_ID_BYTES:
        raise MatrixError(Codes.INVALID_PARAM, f"{room_id!r} is not a valid room ID", 400)
    return room_id


def _check_type(data_type: str) -> None:
    if not data_type or len(data_type.encode()) > MAX_TYPE_BYTES:
        raise MatrixError(Codes.INVALID_PARAM, "Invalid account data type", 400)


def _check_settable(data_type: str) -> None:
    _check_type(data_type)
    if data_type in SERVER_MANAGED_TYPES:
        raise MatrixError(Codes.BAD_JSON, f"Cannot set {data_type} through this API.", 405)


def _check_ignored_user_list(content: dict[str, Any]) -> None:
    """`m.ignored_user_list` (event schema): `ignored_users` is an object keyed by user IDs."""
    ignored = content.get("ignored_users")
    if not isinstance(ignored, dict):
        raise MatrixError(Codes.BAD_JSON, "ignored_users must be an object keyed by user IDs", 400)
    for user_id, value in ignored.items():
        try:
            UserID.parse(user_id)
        except MatrixError:
            raise MatrixError(Codes.BAD_JSON, f"ignored_users: {user_id!r} is not a user ID", 400) from None
        if not isinstance(value, dict):
            raise MatrixError(Codes.BAD_JSON, f"ignored_users: the value of {user_id} must be an object", 400)


# --- global and room account data ----------------------------------------------------------------

def set_account_data(requester, user_id: str, data_type: str, content: dict[str, Any],
                     room_id: str | None = None) -> None:
    _own(requester, user_id)
    if room_id is not None:
        check_room_id(room_id)
    _check_settable(data_type)
    if room_id is None and data_type == stores.IGNORED_USER_LIST:
        _check_ignored_user_list(content)
    stores.put(user_id, room_id, data_type, content)


def get_account_data(requester, user_id: str, data_type: str, room_id: str | None = None) -> dict[str, Any]:
    _own(requester, user_id)
    if room_id is not None:
        check_room_id(room_id)
    _check_type(data_type)
    if room_id is None and data_type == "m.push_rules":
        # Spec ("Client Config"): the server-managed types read as normal; push rules live in apps.push.
        from apps.push.handlers import push_rules_content

        return push_rules_content(user_id)
    content = stores.get(user_id, room_id, data_type)
    if content is None:
        raise MatrixError(Codes.NOT_FOUND, "Room account data not found." if room_id else "Account data not found.",
                          404)
    return content


REPLICATION_WRITE_PATH = "/account_data/write"


def write_server_account_data(user_id: str, room_id: str | None, data_type: str, content: dict[str, Any]) -> int:
    """For the server's own writes of the types clients may not set (`m.fully_read` from /read_markers,
    `m.push_rules`): stored and streamed like any account data. Returns the stream position. On an
    instance that does not write the `account_data` stream, the write goes to its writer (internal
    replication HTTP) and this returns once this instance can read it."""
    from hsproject import instance

    if instance.writes(stores.STREAM):
        return stores.put(user_id, room_id, data_type, content)
    from apps.streams.replication_http import call_instance, wait_for_position

    answer = call_instance(instance.writers_of(stores.STREAM)[0], REPLICATION_WRITE_PATH,
                           {"user_id": user_id, "room_id": room_id, "type": data_type, "content": content})
    position = answer.get("position")
    if not isinstance(position, int) or isinstance(position, bool):
        raise MatrixError(Codes.UNKNOWN, "The account data writer gave no position", 502)
    wait_for_position(stores.STREAM, position)
    return position


def ignored_users(user_id: str) -> frozenset[str]:
    return stores.ignored_users(user_id)


# --- tags ----------------------------------------------------------------------------------------

def _tags_of(content: dict[str, Any] | None) -> dict[str, Any]:
    tags = content.get("tags") if isinstance(content, dict) else None
    return dict(tags) if isinstance(tags, dict) else {}


def _check_tag(tag: str) -> None:
    if not tag or len(tag.encode()) > MAX_TAG_BYTES:
        raise MatrixError(Codes.INVALID_PARAM, f"A tag must be 1 to {MAX_TAG_BYTES} bytes long", 400)


def get_tags(requester, user_id: str, room_id: str) -> dict[str, Any]:
    _own(requester, user_id)
    check_room_id(room_id)
    return {"tags": _tags_of(stores.get(user_id, room_id, TAG_EVENT_TYPE))}


def set_tag(requester, user_id: str, room_id: str, tag: str, body: dict[str, Any]) -> None:
    _own(requester, user_id)
    check_room_id(room_id)
    _check_tag(tag)
    if "order" in body:
        order = body["order"]
        # Spec (definitions/tag.yaml): a number in the range [0,1].
        if isinstance(order, bool) or not isinstance(order, (int, float)):
            raise MatrixError(Codes.BAD_JSON, "order must be a number", 400)
        if not (math.isfinite(order) and 0 <= order <= 1):
            raise MatrixError(Codes.INVALID_PARAM, "order must be between 0 and 1", 400)

    def change(old: dict[str, Any] | None) -> dict[str, Any] | None:
        tags = _tags_of(old)
        if tags.get(tag) == body:
            return None  # unchanged: no write, no stream position
        tags[tag] = body
        return {"tags": tags}
    stores.update(user_id, room_id, TAG_EVENT_TYPE, change)


def delete_tag(requester, user_id: str, room_id: str, tag: str) -> None:
    """Removing a tag the room does not have is a success that changes nothing."""
    _own(requester, user_id)
    check_room_id(room_id)
    _check_tag(tag)

    def change(old: dict[str, Any] | None) -> dict[str, Any] | None:
        tags = _tags_of(old)
        if tag not in tags:
            return None
        del tags[tag]
        return {"tags": tags}
    stores.update(user_id, room_id, TAG_EVENT_TYPE, change)
