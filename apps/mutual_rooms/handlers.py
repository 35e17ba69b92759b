"""The rules of GET /_matrix/client/v1/mutual_rooms (client-server API, "Mutual Rooms"; mutual_rooms.yaml).

`joined` lists the rooms where both the requester and `user_id` have the membership `join`, in room ID
order, BATCH_SIZE at a time; `count` is the total, whatever the page. A user ID that is well formed
but names nobody (or no one we share a room with) gives an empty list; one that does not follow even
the historical user ID grammar, or the requester's own ID, is 400 M_INVALID_PARAM.

The `next_batch` token is opaque to clients: the last room ID of the page and the `user_id` it was
made for. Pagination is by room ID (keyset), so a token never expires: rooms joined or left between
pages are seen or not according to where their IDs sort (the spec allows omitting rooms joined after
the first token). A token that does not decode, or was made for another `user_id`, is 400
M_INVALID_PARAM.
"""
from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from apps.core.errors import Codes, MatrixError
from apps.core.ids import UserID

from . import stores

BATCH_SIZE = 100
_TOKEN_PREFIX = "mr1."


def _encode(user_id: str, last_room_id: str) -> str:
    raw = json.dumps({"u": user_id, "a": last_room_id}, separators=(",", ":")).encode()
    return _TOKEN_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(token: str, user_id: str) -> str:
    invalid = MatrixError(Codes.INVALID_PARAM, "Invalid or expired pagination token", 400)
    if not token.startswith(_TOKEN_PREFIX) or len(token) > 2048:
        raise invalid
    body = token[len(_TOKEN_PREFIX):]
    try:
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid from None
    if not isinstance(data, dict) or data.get("u") != user_id or not isinstance(data.get("a"), str):
        raise invalid
    return data["a"]


def mutual_rooms(requester_user_id: str, user_id: str | None, from_token: str | None = None) -> dict[str, Any]:
    if user_id is None:
        raise MatrixError(Codes.MISSING_PARAM, "Missing parameter: user_id", 400)
    UserID.parse(user_id)  # 400 M_INVALID_PARAM unless a (historical) user ID
    if user_id == requester_user_id:
        raise MatrixError(Codes.INVALID_PARAM, "user_id cannot be your own user ID", 400)
    after = _decode(from_token, user_id) if from_token is not None else None
    # One more than a page tells whether there is a next one.
    ids = stores.mutual_room_ids(requester_user_id, user_id, after=after, limit=BATCH_SIZE + 1)
    result: dict[str, Any] = {"joined": ids[:BATCH_SIZE],
                              "count": stores.mutual_room_count(requester_user_id, user_id)}
    if len(ids) > BATCH_SIZE:
        result["next_batch"] = _encode(user_id, ids[BATCH_SIZE - 1])
    return result
